-- Moves one item to a new state within its current attempt. See Store.Transition.
-- KEYS[1] item hash, KEYS[2] item request, KEYS[3] batch counts hash, KEYS[4] batch
-- series (counts items that become final, per 10 s); for a training's final transition
-- also KEYS[5] model hash and KEYS[6] model index set.
-- ARGV[1] attempt, ARGV[2] target state, ARGV[3] now (Unix ms), ARGV[4] error recorded
-- on a failed (or canceled) training's model, ARGV[5] k, ARGV[6 .. 5+k] the states the item may leave
-- (the caller's from-list, already filtered by CanMove), then field, value pairs to set.
-- Returns {1, item as HGETALL, request} when this call moved the item, {0, item,
-- request} when a guard refused, {-1, model} when a training needs KEYS[5..6] (call
-- again with them),
-- {-2} when there is no such item.
local cur = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'kind', 'model', 'batch', 'id')
if not cur[1] then
  return {-2}
end
if cur[2] ~= ARGV[1] then
  return {0, redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or ''}
end
local k = tonumber(ARGV[5])
local allowed = false
for i = 6, 5 + k do
  if ARGV[i] == cur[1] then
    allowed = true
    break
  end
end
if not allowed then
  return {0, redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or ''}
end

local to, now = ARGV[2], ARGV[3]
local trainEnd = cur[3] == 'train' and (to == 'completed' or to == 'failed' or to == 'canceled')
if trainEnd and not KEYS[5] then
  return {-1, cur[4]}
end

local set = {'state', to}
for i = 6 + k, #ARGV do
  set[#set + 1] = ARGV[i]
end
if to == 'submitting' then
  -- The claim's time on Redis's clock, the one clock every worker shares (ClaimAge).
  local t = redis.call('TIME')
  set[#set + 1] = 'claimedAt'
  set[#set + 1] = string.format('%d', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
end
redis.call('HSET', KEYS[1], unpack(set))
redis.call('HINCRBY', KEYS[3], cur[1], -1)
redis.call('HINCRBY', KEYS[3], to, 1)
if to == 'completed' or to == 'failed' or to == 'canceled' then
  redis.call('HINCRBY', KEYS[4], 'f' .. math.floor(tonumber(now) / 10000), 1)
  redis.call('EXPIRE', KEYS[4], 604800)
end

if trainEnd then
  local m = redis.call('HMGET', KEYS[5], 'state', 'batch', 'item')
  if to == 'completed' then -- the service has the model, whatever the record said
    redis.call('HSET', KEYS[5], 'name', cur[4], 'state', 'ready', 'error', '', 'updatedAt', now)
    redis.call('HSETNX', KEYS[5], 'batch', cur[5])
    redis.call('HSETNX', KEYS[5], 'item', cur[6])
    redis.call('SADD', KEYS[6], cur[4])
  elseif not m[1] or (m[1] == 'training' and m[2] == cur[5] and m[3] == cur[6]) then
    redis.call('HSET', KEYS[5], 'name', cur[4], 'state', 'failed', 'batch', cur[5], 'item', cur[6],
      'error', ARGV[4], 'updatedAt', now)
    redis.call('SADD', KEYS[6], cur[4])
  end
end
return {1, redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or ''}
