-- Takes a place in the window for a call whose buckets granted earlier (window_admit).
-- KEYS[1]: the window's sorted set. ARGV: limit, lease µs, call id.
-- Returns 0 when admitted, else the wait in µs.
return window_admit(KEYS[1], redis.call('TIME'), tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
