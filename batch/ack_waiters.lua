-- Removes released waiters of a model, but only if the model's record is still the one
-- their releaser read (same state and last change, not training). Once the model trains
-- again, a resubmitted song may have registered anew under the same member (ZADD NX
-- keeps the old one): removing it would leave that song waiting for good.
-- KEYS[1] model hash, KEYS[2] model waiters zset.
-- ARGV[1] state read, ARGV[2] updatedAt read ('' for no record), ARGV[3..] "BATCH:ID".
-- Returns the number removed, or -1 when the model moved on (nothing removed).
local m = redis.call('HMGET', KEYS[1], 'state', 'updatedAt')
local st, up = m[1] or '', m[2] or ''
if st == 'training' or st ~= ARGV[1] or up ~= ARGV[2] then
  return -1
end
local n = 0
for i = 3, #ARGV do
  n = n + redis.call('ZREM', KEYS[2], ARGV[i])
end
return n
