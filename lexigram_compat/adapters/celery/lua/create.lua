-- Create a job record unless its id or unique key is taken.
-- KEYS[1] job hash, KEYS[2] unique-key string ('' for none), KEYS[3] status index zset
-- ARGV[1] job id, ARGV[2] index score, ARGV[3..] field/value pairs
-- Returns {1, id} when created, {0, existing id} otherwise.
if KEYS[2] ~= '' then
  local holder = redis.call('GET', KEYS[2])
  if holder then return {0, holder} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, ARGV[1]} end
if KEYS[2] ~= '' then redis.call('SET', KEYS[2], ARGV[1]) end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return {1, ARGV[1]}
