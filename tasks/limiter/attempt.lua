-- One attempt of a share's waiter (attempt.go): the priority check, the share's reserved
-- bucket, the other share's pending mark, the account bucket, the waiters' marks and,
-- once the buckets granted, the window. One script, so that a grant is one round trip;
-- it decides as the separate steps did, and the Go side turns its reply into waits.
-- Needs allow_n (gcra.lua), mark_later (mark_later.lua) and window_admit
-- (window_admit.lua) before it.
--
-- KEYS: 1 the state hash, 2 the share's reserved bucket, 3 the account bucket, 4 the window.
-- ARGV: 1 now (the Go clock, which the marks are in), unix ms; 2 the ns past that ms;
--   3 half the account's interval, ns; 4 '1' when this process holds the share's ticket;
--   5-7 reserved bucket: burst, rate, period s; 8-11 account bucket: burst, rate,
--   period s, cost; 12 the other share's pending field; 13 this share's; 14 the waiter's
--   priority field, '' when it marks none; 15 its mark on a grant, unix ms;
--   16 window limit; 17 window lease µs; 18 call id; 19.. higher priorities' fields.
-- Reply {code, took, ms, retry, lane retry, window µs, raw}; took is 1 when the reserved
-- bucket gave a ticket, retries are redis_rate's strings (seconds):
--   0 granted: window µs is 0 when admitted, else how long the window stays full;
--   1 denied by the account bucket (lane retry: the reserved bucket's, if it was asked);
--   2 a higher priority's waiter waits until ms; 3 the other share's ticket holder
--   waits until ms (lane retry); 4 the other share's mark is not an integer (raw).
local t = redis.call('TIME')
local state = KEYS[1]
local now_ms = tonumber(ARGV[1])

-- strconv.ParseInt's integers, which the old separate reads accepted.
local function is_int(v)
  return v and string.match(v, '^[+-]?%d+$') ~= nil
end

local latest = 0
for i = 19, #ARGV do
  local v = redis.call('HGET', state, ARGV[i])
  if is_int(v) then latest = math.max(latest, tonumber(v)) end
end
if now_ms < latest then
  return {2, 0, latest, '', '', 0, ''}
end

local ticket, took, lane_retry = ARGV[4] == '1', 0, ''
if not ticket then
  local ok, retry = allow_n(KEYS[2], ARGV[5], ARGV[6], ARGV[7], 1, t)
  if ok then
    ticket, took = true, 1
  else
    lane_retry = retry
  end
end
if not ticket then
  local v = redis.call('HGET', state, ARGV[12])
  if v then
    if not is_int(v) then
      return {4, 0, 0, '', '', 0, v}
    end
    if now_ms < tonumber(v) then
      return {3, 0, tonumber(v), '', lane_retry, 0, ''}
    end
  end
end

local ok, retry = allow_n(KEYS[3], ARGV[8], ARGV[9], ARGV[10], tonumber(ARGV[11]), t)
if ok then
  if ARGV[14] ~= '' then
    mark_later(state, ARGV[14], ARGV[15])
  end
  local wait = window_admit(KEYS[4], t, tonumber(ARGV[16]), tonumber(ARGV[17]), ARGV[18])
  return {0, took, 0, '', '', wait, ''}
end

-- Denied: the marks say until half an interval past the retry: long enough to cover
-- this waiter's next attempt, short enough that the others are back for the slot after
-- it. In ms of the Go clock, as Go's now.Add(retry + interval/2).UnixMilli() (integers
-- below 2^53: exact).
local wait_ns = math.floor(tonumber(retry) * 1000000000)
local until_ms = string.format('%.0f',
  now_ms + math.floor((tonumber(ARGV[2]) + wait_ns + tonumber(ARGV[3])) / 1000000))
if ticket then
  mark_later(state, ARGV[13], until_ms)
end
if ARGV[14] ~= '' then
  mark_later(state, ARGV[14], until_ms)
end
return {1, took, 0, retry, lane_retry, 0, ''}
