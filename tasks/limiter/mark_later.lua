-- mark_later sets a field of the limiter's state hash to a unix ms time unless it
-- already says later: marks of waiters of several processes say until when someone
-- waits, and the latest of them holds.
local function mark_later(key, field, ms)
  local cur = tonumber(redis.call('HGET', key, field) or '0') or 0
  if tonumber(ms) > cur then
    redis.call('HSET', key, field, ms)
  end
end
