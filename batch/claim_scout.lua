-- ClaimScout: KEYS[1] the class's scouts hash (slot -> "member|expiresMs").
-- ARGV: member, slots, nowMs, expiresMs. Returns member's slot, or -1.
local slots, now = tonumber(ARGV[2]), tonumber(ARGV[3])
local entry = ARGV[1] .. '|' .. ARGV[4]
local free = -1
for i = 0, slots - 1 do
  local v = redis.call('HGET', KEYS[1], tostring(i))
  if v then
    local m, exp = string.match(v, '^(.*)|(%d+)$')
    if m == ARGV[1] then
      redis.call('HSET', KEYS[1], tostring(i), entry)
      return i
    end
    if free < 0 and (exp == nil or tonumber(exp) < now) then free = i end
  elseif free < 0 then
    free = i
  end
end
if free >= 0 then
  redis.call('HSET', KEYS[1], tostring(free), entry)
end
return free
