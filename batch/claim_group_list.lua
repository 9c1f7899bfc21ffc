-- Lets one poll list a group per interval, unless the asking member needs no list any
-- more. See Store.ClaimGroupList.
-- KEYS[1] the member's item hash, KEYS[2] the group's list marker.
-- ARGV[1] the member's attempt, ARGV[2] the interval (ms).
-- Returns {0} when the member's attempt is final or replaced (recorded meanwhile: no
-- list), {1} when this call may list the group now, {2, ms} when another member listed
-- it just now and the next list may come in ms.
local cur = redis.call('HMGET', KEYS[1], 'state', 'attempt')
if cur[1] and (cur[1] == 'completed' or cur[1] == 'failed' or cur[1] == 'canceled' or cur[2] ~= ARGV[1]) then
  return {0}
end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then
  return {1}
end
return {2, redis.call('PTTL', KEYS[2])}
