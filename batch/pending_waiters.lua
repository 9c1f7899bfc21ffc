-- Reads the oldest items waiting for a model, once the model is no longer training,
-- in the same step as reading the model's record. Removes nothing: the releaser
-- acknowledges them (ack_waiters.lua) after resubmitting them.
-- KEYS[1] model hash, KEYS[2] model waiters zset. ARGV[1] at most this many.
-- Returns {model hash as HGETALL, {"BATCH:ID", ...} in the order they started waiting};
-- the list is empty while the model is training.
local rec = redis.call('HGETALL', KEYS[1])
if redis.call('HGET', KEYS[1], 'state') == 'training' then
  return {rec, {}}
end
return {rec, redis.call('ZRANGE', KEYS[2], 0, tonumber(ARGV[1]) - 1)}
