-- Move a job to a new status atomically, if its current status allows it.
-- KEYS[1] job hash
-- ARGV[1] key prefix, ARGV[2] job id, ARGV[3] new status, ARGV[4] index score,
-- ARGV[5] allowed current statuses, comma separated ('none' = no record, '*' = any),
-- ARGV[6] seconds to keep the record ('' = forever, '0' = delete now),
-- ARGV[7] attempts delta, ARGV[8] '1' to release the unique key now,
-- ARGV[9] tombstone seconds: > 0 leaves key <prefix>tomb:<id> for that long past the
-- job's run-at time (so a message still on the broker never starts it once the record
-- has expired or been deleted), ARGV[10] how many field/value pairs follow that are set
-- only when there was no record, then those pairs, then field/value pairs to set always.
-- Returns {previous status, attempts, max_attempts, moved (1/0)}.
local old = redis.call('HGET', KEYS[1], 'status') or 'none'
if old == 'none' and redis.call('EXISTS', ARGV[1] .. 'tomb:' .. ARGV[2]) == 1 then old = 'cancelled' end
if ARGV[5] ~= '*' then
  local allowed = false
  for s in string.gmatch(ARGV[5], '[^,]+') do
    if s == old then allowed = true end
  end
  if not allowed then
    return {old, tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0'),
            tonumber(redis.call('HGET', KEYS[1], 'max_attempts') or '0'), 0}
  end
end
local prefix = ARGV[1]
local id = ARGV[2]
local creating = tonumber(ARGV[10]) * 2
if old == 'none' and creating > 0 then redis.call('HSET', KEYS[1], unpack(ARGV, 11, 10 + creating)) end
if #ARGV >= 11 + creating then redis.call('HSET', KEYS[1], unpack(ARGV, 11 + creating)) end
local queue = redis.call('HGET', KEYS[1], 'queue') or ''
local tomb = tonumber(ARGV[9])
if tomb > 0 then
  -- scheduled/retrying jobs are scored by their run-at time, others by a past moment
  local run_at = tonumber(redis.call('ZSCORE', prefix .. 'q:' .. queue .. ':' .. old, id) or ARGV[4])
  local ttl = math.ceil(math.max(0, run_at - tonumber(ARGV[4])) + tomb)
  redis.call('SET', prefix .. 'tomb:' .. id, '1', 'EX', ttl)
end
if old ~= 'none' then redis.call('ZREM', prefix .. 'q:' .. queue .. ':' .. old, id) end
redis.call('HSET', KEYS[1], 'status', ARGV[3])
local attempts
if ARGV[7] ~= '0' then
  attempts = redis.call('HINCRBY', KEYS[1], 'attempts', ARGV[7])
else
  attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
end
local unique = redis.call('HGET', KEYS[1], 'unique_key')
if ARGV[8] == '1' and unique and unique ~= '' then
  local ukey = prefix .. 'uniq:' .. unique
  if redis.call('GET', ukey) == id then redis.call('DEL', ukey) end
  redis.call('HDEL', KEYS[1], 'unique_key')
  unique = nil
end
local max_attempts = tonumber(redis.call('HGET', KEYS[1], 'max_attempts') or '0')
if ARGV[6] == '0' then
  redis.call('DEL', KEYS[1])
  if unique and unique ~= '' then
    local ukey = prefix .. 'uniq:' .. unique
    if redis.call('GET', ukey) == id then redis.call('DEL', ukey) end
  end
else
  if ARGV[3] ~= 'cleared' then  -- nothing reads a cleared index: none is kept
    redis.call('ZADD', prefix .. 'q:' .. queue .. ':' .. ARGV[3], ARGV[4], id)
  end
  if ARGV[6] ~= '' then
    redis.call('EXPIRE', KEYS[1], ARGV[6])
    if unique and unique ~= '' then redis.call('EXPIRE', prefix .. 'uniq:' .. unique, ARGV[6]) end
  end
end
return {old, attempts, max_attempts, 1}
