-- Claims a pending or waiting item for its CreateJob (→ submitting), unless its batch
-- holds it back. See Store.Claim. Pause, cancel and the spending caps are read in the
-- same step as the claim, so no job is created after a pause or cancel is recorded,
-- nor past a cap, whatever the number of workers.
-- KEYS[1] item hash, KEYS[2] item request, KEYS[3] batch counts hash, KEYS[4] batch
-- hash, KEYS[5] batch parked set, KEYS[6] the account's jobs of the day.
-- ARGV[1] attempt, ARGV[2] account cap a day (0: none), ARGV[3] the day counter's TTL
-- (seconds), ARGV[4] 'claim', or 'check' to hold back as a claim would but not claim,
-- then field, value pairs to set.
-- Returns {code, item as HGETALL, request, the batch's priority}: 1 claimed (or free to, for a check), 0
-- not this attempt or not pending/waiting, 2 parked (paused), 3 canceled (the caller records it), 4 parked
-- (the batch's cap), 5 parked (the account's cap); {-2} when there is no such item.
local cur = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'id')
if not cur[1] then
  return {-2}
end
-- A parked item says why in its record ('held'); it forgets it when it leaves the set.
local function park(code, why)
  redis.call('SADD', KEYS[5], cur[3])
  redis.call('HSET', KEYS[1], 'held', why)
  return code
end
local function unpark()
  redis.call('SREM', KEYS[5], cur[3])
  redis.call('HDEL', KEYS[1], 'held')
end
local function reply(code)
  return {code, redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or '',
    redis.call('HGET', KEYS[4], 'priority') or ''}
end
-- A check of a submitting item (about to send its CreateJob again, none having been
-- created) heeds pause and cancel; its job was counted when it was claimed.
local resend = ARGV[4] == 'check' and cur[1] == 'submitting'
local claiming = ARGV[4] == 'claim'
if cur[2] ~= ARGV[1] or (cur[1] ~= 'pending' and cur[1] ~= 'waiting' and not resend) then
  if claiming and cur[2] == ARGV[1] and cur[1] ~= 'submitting' then
    unpark() -- sent or ended by another run
  end
  return reply(0)
end

local b = redis.call('HMGET', KEYS[4], 'paused', 'canceled', 'maxJobs', 'jobs')
if b[2] == '1' then
  unpark()
  return reply(3)
end
if b[1] == '1' then
  return reply(park(2, 'paused'))
end
if resend then
  unpark()
  return reply(1)
end
local jobs = tonumber(b[4] or '0') or 0
local maxJobs = tonumber(b[3] or '0') or 0
if maxJobs > 0 and jobs >= maxJobs then
  redis.call('HSET', KEYS[4], 'heldBy', 'batch')
  return reply(park(4, 'batch cap'))
end
local cap = tonumber(ARGV[2])
if cap > 0 and (tonumber(redis.call('GET', KEYS[6]) or '0') or 0) >= cap then
  redis.call('HSET', KEYS[4], 'heldBy', 'account')
  return reply(park(5, 'account cap'))
end

if not claiming then
  return reply(1)
end
-- A parked item leaves the parked set only here, when it is sent (or above, when it
-- is no longer to be sent): whoever hands parked items back cannot lose one.
unpark()
local set = {'state', 'submitting'}
for i = 5, #ARGV do
  set[#set + 1] = ARGV[i]
end
-- The claim's time on Redis's clock, the one clock every worker shares (ClaimAge).
local t = redis.call('TIME')
set[#set + 1] = 'claimedAt'
set[#set + 1] = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
redis.call('HSET', KEYS[1], unpack(set))
redis.call('HINCRBY', KEYS[3], cur[1], -1)
redis.call('HINCRBY', KEYS[3], 'submitting', 1)
redis.call('HINCRBY', KEYS[4], 'jobs', 1)
redis.call('INCR', KEYS[6])
redis.call('EXPIRE', KEYS[6], ARGV[3])
return reply(1)
