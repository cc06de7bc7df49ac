-- Claimed ids with no message: bytes pushed on a queue's list by something that
-- is not Dramatiq. Dramatiq's fetch moves them to the acks set and returns nil
-- for them, then skips them ("Found 'None' message in message cache"), and they
-- stay claimed until the worker dies, and come back. Here each is re-claimed under
-- a printable id ("undecodable-<sha1 of the bytes>") whose message body is the
-- bytes themselves, so the nack that follows dead-letters them.
-- Atomic: an ack removes an id from the acks set and its message together, so an
-- id found here without a message is never a real message being acknowledged.
-- KEYS[1] acks set, KEYS[2] messages hash. Returns the new ids.
local renamed = {}
for _, id in ipairs(redis.call("SMEMBERS", KEYS[1])) do
  if redis.call("HEXISTS", KEYS[2], id) == 0 then
    local printable = "undecodable-" .. redis.sha1hex(id)
    redis.call("SREM", KEYS[1], id)
    redis.call("HSET", KEYS[2], printable, id)
    redis.call("SADD", KEYS[1], printable)
    table.insert(renamed, printable)
  end
end
return renamed
