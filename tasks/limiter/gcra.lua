-- allow_n is redis_rate's AllowN: GCRA, copied operation for operation from
-- github.com/go-redis/redis_rate/v10 v10.0.1 (lua.go; Copyright (c) 2013 The
-- github.com/go-redis/redis_rate Authors, BSD-2-Clause, gcra.LICENSE), itself from
-- github.com/rwz/redis-gcra (Copyright (c) 2017 Pavel Pravosud). Same arithmetic on the
-- same arguments, so a bucket's key holds what redis_rate would write: workers of a
-- release that still call redis_rate share the buckets during a rolling upgrade
-- (gcra_test.go compares the two). Only the clock is an argument (t, a TIME reply), so
-- that one script reads it once. Returns true, or false and the retry in seconds as
-- redis_rate returns it (Lua's tostring).
local function allow_n(key, burst, rate, period, cost, t)
  local emission_interval = period / rate
  local increment = emission_interval * cost
  local burst_offset = emission_interval * burst

  -- redis_rate's epoch: seconds since 2017 keep the microseconds within a double.
  local jan_1_2017 = 1483228800
  local now = (t[1] - jan_1_2017) + (t[2] / 1000000)

  local tat = redis.call("GET", key)

  if not tat then
    tat = now
  else
    tat = tonumber(tat)
  end

  tat = math.max(tat, now)

  local new_tat = tat + increment
  local allow_at = new_tat - burst_offset

  local diff = now - allow_at
  local remaining = diff / emission_interval

  if remaining < 0 then
    return false, tostring(diff * -1)
  end

  local reset_after = new_tat - now
  if reset_after > 0 then
    redis.call("SET", key, new_tat, "EX", math.ceil(reset_after))
  end
  return true, ""
end
