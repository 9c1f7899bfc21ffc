-- Adds one chunk of manifest items to a batch, atomically. See Store.AddItems.
-- KEYS[1] batch index set      KEYS[2] batch hash      KEYS[3] batch counts hash
-- KEYS[4] batch order list     KEYS[5] manifests hash  KEYS[6] model index set
-- KEYS[7 .. 6+n] item hashes and KEYS[7+n .. 6+2n] item requests, in item order (a
-- request of at most 64 bytes goes in its item's hash instead, field spec: within
-- Redis's default hash-max-listpack-value, the hash stays a listpack);
-- further KEYS: model hashes, referenced by index from ARGV.
-- ARGV[1] batch name, ARGV[2] now (Unix ms), ARGV[3] manifest, ARGV[4] n, ARGV[5] items
-- the caller refused already (only counted in the manifest's record), ARGV[6] the run
-- token ('' for none), then 6 values per item: id, kind, model, origin, request (stored
-- encoding v2),
-- model key index (0: not a training).
-- Returns {added, existing, {id, origin, model, state, batch, item, ...},
-- {index, first origin, ...}}: the third list holds, for each refused training, who
-- already holds the model name; the fourth, for each item whose id this run stored
-- already (a duplicate line), its 0-based index and the stored item's origin.
local name, now, manifest, n, run = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[6]

-- An origin FILE:LINE in this manifest is stored as field at = K:LINE, K the manifest's
-- number in the batch (fields no:FILE and file:K of the manifests hash): the path is
-- kept once per batch instead of once per item (ItemRecord.Origin reads it back).
local mno = redis.call('HGET', KEYS[5], 'no:' .. manifest)
if not mno then
  mno = redis.call('HINCRBY', KEYS[5], 'files', 1)
  redis.call('HSET', KEYS[5], 'no:' .. manifest, mno, 'file:' .. mno, manifest)
end
local prefix = manifest .. ':'
local function originField(origin)
  if string.sub(origin, 1, #prefix) == prefix then
    local line = string.sub(origin, #prefix + 1)
    if string.match(line, '^%d+$') then
      return 'at', mno .. ':' .. line
    end
  end
  return 'origin', origin
end
local function storedOrigin(origin, at)
  if origin or not at then
    return origin or ''
  end
  local k, line = string.match(at, '^(%d+):(%d+)$')
  return (redis.call('HGET', KEYS[5], 'file:' .. (k or '')) or '?') .. ':' .. (line or '')
end

redis.call('SADD', KEYS[1], name)
redis.call('HSETNX', KEYS[2], 'name', name)
redis.call('HSETNX', KEYS[2], 'created', now)
local seq = tonumber(redis.call('HGET', KEYS[2], 'total') or '0')

local added, existing, refused, dups = 0, 0, {}, {}
for i = 0, n - 1 do
  local a = 7 + i * 6
  local id, kind, model, origin, req = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local mk = tonumber(ARGV[a + 5])
  -- An item's hash exists exactly when its id is in the batch (in the order list, or
  -- in the sorted set of earlier releases).
  local r = redis.call('HMGET', KEYS[7 + i], 'state', 'run', 'origin', 'at')
  local stored = r[1]
  local first = nil
  if stored and run ~= '' and r[2] == run then
    first = storedOrigin(r[3], r[4])
  end
  if first then -- stored by this very run: a duplicate line, left alone
    dups[#dups + 1] = i
    dups[#dups + 1] = first
  elseif stored then
    existing = existing + 1 -- already in the batch: never reset
    if run ~= '' then
      -- Only marked as read by this run, so that a later line with its id is a
      -- duplicate here too, as on the run that stored it.
      redis.call('HSET', KEYS[7 + i], 'run', run)
    end
  else
    local ok = true
    if mk > 0 then
      local m = redis.call('HMGET', KEYS[mk], 'state', 'batch', 'item')
      if m[1] == 'training' or m[1] == 'ready' then
        ok = false
        for _, v in ipairs({id, origin, model, m[1], m[2] or '', m[3] or ''}) do
          refused[#refused + 1] = v
        end
      else -- no record, or a failed training: this item trains it now
        redis.call('HSET', KEYS[mk], 'name', model, 'state', 'training', 'batch', name,
          'item', id, 'error', '', 'updatedAt', now)
        redis.call('SADD', KEYS[6], model)
      end
    end
    if ok then
      seq = seq + 1
      -- No updatedAt yet: it is enqueuedAt until the record changes.
      local of, ov = originField(origin)
      redis.call('HSET', KEYS[7 + i], 'batch', name, 'id', id, 'seq', seq, 'kind', kind,
        'model', model, of, ov, 'state', 'pending', 'attempt', 1, 'enqueuedAt', now)
      if run ~= '' then
        redis.call('HSET', KEYS[7 + i], 'run', run)
      end
      if #req <= 64 then
        redis.call('HSET', KEYS[7 + i], 'spec', req)
      else
        redis.call('SET', KEYS[7 + n + i], req)
      end
      redis.call('RPUSH', KEYS[4], id)
      added = added + 1
    end
  end
end

redis.call('HSET', KEYS[2], 'total', seq)
if added > 0 then
  redis.call('HINCRBY', KEYS[3], 'pending', added)
end
redis.call('HSETNX', KEYS[5], 'first:' .. manifest, now)
redis.call('HSET', KEYS[5], 'last:' .. manifest, now)
redis.call('HINCRBY', KEYS[5], 'added:' .. manifest, added)
redis.call('HINCRBY', KEYS[5], 'existing:' .. manifest, existing)
redis.call('HINCRBY', KEYS[5], 'refused:' .. manifest, #refused / 6 + tonumber(ARGV[5]))
return {added, existing, refused, dups}
