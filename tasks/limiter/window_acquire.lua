-- Takes a place in the 1-second window of upstream calls, or says how long to wait.
-- KEYS[1]: sorted set of calls, member = call id, score = µs (Redis time) by which the
--          call's request has surely reached the service: its reply time once released,
--          the end of its lease while in flight.
-- ARGV[1]: limit (calls in any 1 s window); ARGV[2]: lease µs; ARGV[3]: call id.
-- Returns {1, 0} when admitted, {0, wait µs} when not.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
-- A call whose request surely arrived before now-1s cannot share a window with a new one.
-- (%.0f: Lua's own number-to-string keeps only 14 digits, too few for µs.)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', now - 1000000))
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], string.format('%.0f', now + lease), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.floor((lease + 1000000) / 1000) + 1000)
  return {1, 0}
end
-- The oldest entry leaves 1 s after its score; one still in flight leaves no sooner
-- than 1 s from now.
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = tonumber(first[2]) + 1000000 - now
if wait > 1000000 then wait = 1000000 end
if wait < 1 then wait = 1 end
return {0, wait}
