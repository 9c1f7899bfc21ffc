-- Parks an item of a paused batch: its submission stands down until the batch resumes.
-- KEYS[1] the batch hash, KEYS[2] its parked set. ARGV[1] the item id.
-- Returns 1 when parked (the batch is paused), 0 when the batch is not paused.
if redis.call('HGET', KEYS[1], 'paused') ~= '1' then
  return 0
end
redis.call('SADD', KEYS[2], ARGV[1])
return 1
