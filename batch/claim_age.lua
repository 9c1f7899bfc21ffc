-- ClaimAge: KEYS[1] item hash; ARGV[1] attempt. Returns the age in ms of the attempt's
-- claim on Redis's clock, -1 when the item has no claim time (claimed by an older
-- version), -2 when it is gone or at another attempt.
local cur = redis.call('HMGET', KEYS[1], 'attempt', 'claimedAt')
if not cur[1] or cur[1] ~= ARGV[1] then
  return -2
end
if not cur[2] then
  return -1
end
local t = redis.call('TIME')
return math.max(0, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(cur[2]))
