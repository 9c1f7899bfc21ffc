-- ReleaseScout: KEYS[1] the class's scouts hash; ARGV[1] member. Frees member's slot.
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local m = string.match(all[i + 1], '^(.*)|%d+$')
  if m == ARGV[1] then redis.call('HDEL', KEYS[1], all[i]) end
end
return 0
