-- Marks a model ready or failed. See Store.SetModelReady and Store.SetModelFailed.
-- KEYS[1] model hash, KEYS[2] model index set.
-- ARGV[1] name, ARGV[2] 'ready' or 'failed', ARGV[3] error, ARGV[4] now (Unix ms).
-- ready is the service's word and wins from any state; failed only replaces training
-- (or no record): a failure report never undoes a model the service has.
-- Returns 1 when the state changed, else 0.
local st = redis.call('HGET', KEYS[1], 'state')
local to = ARGV[2]
if st == to then
  return 0
end
if to == 'failed' and st and st ~= 'training' then
  return 0
end
local err = ARGV[3]
if to == 'ready' then
  err = ''
end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'state', to, 'error', err, 'updatedAt', ARGV[4])
redis.call('SADD', KEYS[2], ARGV[1])
return 1
