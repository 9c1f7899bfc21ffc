-- window_admit takes a place in the 1-second window of upstream calls (window.go), or
-- says how long to wait. key: sorted set of calls, member = call id, score = µs (Redis
-- time) by which the call's request has surely reached the service: its reply time once
-- released, the end of its lease while in flight. t: a TIME reply; limit: calls in any
-- 1 s window; lease: µs. Returns 0 when admitted, else the wait in µs.
local function window_admit(key, t, limit, lease, id)
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  -- A call whose request surely arrived before now-1s cannot share a window with a new
  -- one. (%.0f: Lua's own number-to-string keeps only 14 digits, too few for µs.)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. string.format('%.0f', now - 1000000))
  if redis.call('ZCARD', key) < limit then
    redis.call('ZADD', key, string.format('%.0f', now + lease), id)
    redis.call('PEXPIRE', key, math.floor((lease + 1000000) / 1000) + 1000)
    return 0
  end
  -- The oldest entry leaves 1 s after its score; one still in flight leaves no sooner
  -- than 1 s from now.
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  local wait = tonumber(first[2]) + 1000000 - now
  if wait > 1000000 then wait = 1000000 end
  if wait < 1 then wait = 1 end
  return wait
end
