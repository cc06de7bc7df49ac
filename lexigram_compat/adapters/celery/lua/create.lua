-- Create a job record unless its id or unique key is taken; publish its message.
-- KEYS[1] job hash, KEYS[2] unique-key string ('' for none), KEYS[3] status index zset,
-- KEYS[4] the broker's queue list ('' when the message is published separately)
-- ARGV[1] job id, ARGV[2] index score, ARGV[3] message to LPUSH on KEYS[4],
-- ARGV[4..] field/value pairs
-- Returns {1, id} when created, {0, existing id} otherwise (nothing published).
if KEYS[2] ~= '' then
  local holder = redis.call('GET', KEYS[2])
  if holder then return {0, holder} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, ARGV[1]} end
if KEYS[2] ~= '' then redis.call('SET', KEYS[2], ARGV[1]) end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
if KEYS[4] ~= '' then redis.call('LPUSH', KEYS[4], ARGV[3]) end
return {1, ARGV[1]}
