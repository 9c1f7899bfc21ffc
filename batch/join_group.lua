-- Puts a request in the open submission group of a batch's class of work.
-- KEYS[1] the group hash, KEYS[2] the list cap (the fewest jobs a ListJobs answer held
-- of more: no group is bigger). ARGV[1] the request's digest, ARGV[2] the group size,
-- ARGV[3] how long a group stays open (ms), ARGV[4] how long the hash is kept (ms).
-- The group is closed, and the next one opened, when it is full, too old, or already
-- holds the same request (two equal requests in one group could not be told apart).
-- Returns {seq, opened (Unix ms)} of the group joined.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local g = redis.call('HMGET', KEYS[1], 'seq', 'n', 'opened')
local seq, n, opened = tonumber(g[1]), tonumber(g[2]) or 0, tonumber(g[3]) or 0
local digest = 'r:' .. ARGV[1]
local size = tonumber(ARGV[2])
local cap = tonumber(redis.call('GET', KEYS[2]) or '')
if cap and cap > 0 and cap < size then
  size = cap
end
if not seq or n >= size or now - opened >= tonumber(ARGV[3])
    or redis.call('HEXISTS', KEYS[1], digest) == 1 then
  seq, n, opened = (seq or 0) + 1, 0, now
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'seq', seq, 'opened', opened)
end
redis.call('HSET', KEYS[1], 'n', n + 1, digest, 1)
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {seq, opened}
