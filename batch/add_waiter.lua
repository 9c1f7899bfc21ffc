-- Registers an item as waiting for a model, only while the model is training (or, when
-- ARGV[3] is "1", also while it has no record), in the same step as reading its state:
-- a releaser that takes the waiters after the model became ready or failed cannot miss
-- an item that checked just before.
-- KEYS[1] model hash, KEYS[2] model waiters zset. ARGV[1] "BATCH:ID", ARGV[2] now,
-- ARGV[3] "1" to register with no record too.
-- Returns the model's state ('' for no record).
local st = redis.call('HGET', KEYS[1], 'state')
if st == 'training' or (not st and ARGV[3] == '1') then
  redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[1])
end
return st or ''
