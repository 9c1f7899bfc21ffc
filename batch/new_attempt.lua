-- Starts a new attempt of an item in a given (final) state. See Store.NewAttempt.
-- KEYS[1] item hash, KEYS[2] item request, KEYS[3] batch counts hash; for a training
-- also KEYS[4] model hash and KEYS[5] model index set.
-- ARGV[1] the state the item must be in, ARGV[2] now (Unix ms).
-- Returns {1, item as HGETALL, request} when this call started the attempt, {0, item,
-- request} when the item is in another state, {-1, model} when a training needs
-- KEYS[4..5], {-2} when
-- there is no such item, {-3, state, batch, item} when another item holds the model.
local cur = redis.call('HMGET', KEYS[1], 'state', 'attempt', 'kind', 'model', 'batch', 'id')
if not cur[1] then
  return {-2}
end
if cur[1] ~= ARGV[1] then
  return {0, redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or ''}
end
local now = ARGV[2]

if cur[3] == 'train' then
  if not KEYS[4] then
    return {-1, cur[4]}
  end
  local m = redis.call('HMGET', KEYS[4], 'state', 'batch', 'item')
  local mine = m[2] == cur[5] and m[3] == cur[6]
  if m[1] == 'ready' or (m[1] == 'training' and not mine) then
    return {-3, m[1], m[2] or '', m[3] or ''}
  end
  redis.call('HSET', KEYS[4], 'name', cur[4], 'state', 'training', 'batch', cur[5], 'item', cur[6],
    'error', '', 'updatedAt', now)
  redis.call('SADD', KEYS[5], cur[4])
end

redis.call('HSET', KEYS[1], 'state', 'pending', 'attempt', tonumber(cur[2]) + 1,
  'enqueuedAt', now, 'updatedAt', now)
redis.call('HDEL', KEYS[1], 'customId', 'claimedAt', 'jobId', 'submittedAt', 'startedAt', 'finishedAt',
  'songName', 'outputRepository', 'outputPath', 'trainedModel', 'error')
redis.call('HINCRBY', KEYS[3], cur[1], -1)
redis.call('HINCRBY', KEYS[3], 'pending', 1)
return {1, redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2]) or ''}
