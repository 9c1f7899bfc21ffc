-- Records the moment a batch's last item became final, once. See Store.MarkEnded.
-- KEYS[1] batch hash, KEYS[2] batch counts hash. ARGV[1] now (Unix ms).
-- Returns {1, endedAt} when this call recorded it, {0, endedAt} when it was recorded
-- already, {0, ''} when the batch has items not final.
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0') or 0
local c = redis.call('HMGET', KEYS[2], 'completed', 'failed', 'canceled')
local finished = (tonumber(c[1] or '0') or 0) + (tonumber(c[2] or '0') or 0) + (tonumber(c[3] or '0') or 0)
if total == 0 or finished < total then
  return {0, ''}
end
if redis.call('HSETNX', KEYS[1], 'endedAt', ARGV[1]) == 1 then
  return {1, ARGV[1]}
end
return {0, redis.call('HGET', KEYS[1], 'endedAt')}
