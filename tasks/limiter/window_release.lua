-- Marks a call of the window as answered: its request arrived by now (Redis time).
-- KEYS[1]: the window's sorted set; ARGV[1]: call id. XX: a lease that already ran
-- out and left the set is not brought back.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZADD', KEYS[1], 'XX', string.format('%.0f', now), ARGV[1])
return 1
