-- KEYS[1]: the limiter's state hash. ARGV: field, unix ms, field, unix ms, ...
-- Each field is set to its value unless it already says later: marks of waiters of
-- several processes say until when someone waits, and the latest of them holds.
for i = 1, #ARGV, 2 do
  local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '0') or 0
  if tonumber(ARGV[i + 1]) > cur then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 0
