-- The Redis job ledger, for every engine whose broker keeps no job records
-- (Dramatiq and Celery, on Redis or RabbitMQ).
--
-- One script, one command per call (ARGV[1]), so every state change is atomic.
-- Key layout, under the prefix P (ARGV[2]):
--   P job:<id>                 hash: the job record (fields in redis_state.py)
--   P idx:<queue>:<status>     zset: job ids in that status, scored by the time
--                              they entered it (finished ones expire by score)
--   P unique:<key>             string: the job id holding an idempotency key
--   P gone:<id>                string: a cancelled or cleared job, so a message
--                              of it still on the broker never brings it back
--   P fire:<key>               string: the job of a schedule fire time, kept
--                              apart from the job record's retention
-- A job record may keep a copy of its broker message while the job waits
-- (fields wire_list, wire_item: see "reconcile"); its start drops the copy.
-- ARGV[3] is the current time in seconds (float) for every command.
-- "many" (at the end) runs several calls in one script call.

-- One call (its arguments as ARGV); the body is not indented under it.
local function run(ARGV)
local command = ARGV[1]
local prefix = ARGV[2]
local now = tonumber(ARGV[3])

local WAITING = {pending = true, scheduled = true, retrying = true}
local FINISHED = {completed = true, failed = true, cancelled = true}

local function job_key(id) return prefix .. "job:" .. id end
local function index_key(queue, status) return prefix .. "idx:" .. queue .. ":" .. status end
local function unique_key(key) return prefix .. "unique:" .. key end
local function gone_key(id) return prefix .. "gone:" .. id end

-- Remember a cancelled/cleared job for hold seconds past its run_at (or now).
local function bury(id, run_at, hold)
    if not hold then return end
    local until_ = math.max(now, tonumber(run_at or "") or now) + hold
    redis.call("set", gone_key(id), "1", "PX", math.max(1, math.floor((until_ - now) * 1000)))
end

-- Give back the idempotency key the job holds (when it still holds it).
local function free_unique(id)
    local held = redis.call("hget", job_key(id), "unique_key")
    if held and held ~= "" and redis.call("get", unique_key(held)) == id then
        redis.call("del", unique_key(held))
    end
end

local function move(id, queue, from, to)
    if from then redis.call("zrem", index_key(queue, from), id) end
    redis.call("zadd", index_key(queue, to), now, id)
end

-- A finished job lives ttl seconds more (0: it goes at once), with its unique key.
local function finish(id, queue, status, ttl)
    local key = job_key(id)
    local held = redis.call("hget", key, "unique_key")
    if ttl <= 0 then
        redis.call("del", key)
        redis.call("zrem", index_key(queue, status), id)
        if held and held ~= "" and redis.call("get", unique_key(held)) == id then
            redis.call("del", unique_key(held))
        end
        return
    end
    local ms = math.max(1, math.floor(ttl * 1000))
    redis.call("pexpire", key, ms)
    if held and held ~= "" and redis.call("get", unique_key(held)) == id then
        redis.call("pexpire", unique_key(held), ms)
    end
end

local function set_fields(key, fields)
    for name, value in pairs(fields) do
        if value ~= cjson.null then
            redis.call("hset", key, name, tostring(value))
        end
    end
end

if command == "create" then
    -- ARGV[4]: the job as one JSON object (one argument for the client to pack):
    -- id, queue, status, unique (the idempotency key, "" for none), fire (the
    -- fire key, "" for none), hold (seconds the fire key is held), fields (the
    -- record's other fields, all strings), and optionally push: the message to
    -- publish with it, atomically, when the job is new (a Redis broker's queue),
    -- as {hash key ("" for none), hash field, list key, "l" or "r" (LPUSH /
    -- RPUSH), "k" to keep a copy of the list value in the record until the job
    -- starts}; then ARGV[5] the hash value (HSET) and ARGV[6] the list value,
    -- passed apart, as the bytes they are.
    -- Returns {id, 1} when created, {holder's id, 0} when the id, the unique key
    -- (of a live job) or the fire key (ever, within its hold) was taken.
    local job = cjson.decode(ARGV[4])
    local id, queue, status, unique, fire = job.id, job.queue, job.status, job.unique, job.fire
    if unique ~= "" then
        local holder = redis.call("get", unique_key(unique))
        if holder and redis.call("exists", job_key(holder)) == 1 then
            return {holder, 0}
        end
    end
    if fire ~= "" then
        local holder = redis.call("get", prefix .. "fire:" .. fire)
        if holder then
            return {holder, 0}
        end
    end
    local key = job_key(id)
    if redis.call("exists", key) == 1 then
        return {id, 0}
    end
    local record = {"status", status, "queue", queue, "unique_key", unique}
    for name, value in pairs(job.fields) do
        record[#record + 1] = name
        record[#record + 1] = value
    end
    redis.call("hset", key, unpack(record))
    move(id, queue, nil, status)
    if unique ~= "" then
        redis.call("set", unique_key(unique), id)
    end
    if fire ~= "" then
        redis.call("set", prefix .. "fire:" .. fire, id, "PX", math.max(1, math.floor(tonumber(job.hold) * 1000)))
    end
    local push = job.push
    if push then
        if push[1] ~= "" then redis.call("hset", push[1], push[2], ARGV[5]) end
        if push[4] == "l" then
            redis.call("lpush", push[3], ARGV[6])
        else
            redis.call("rpush", push[3], ARGV[6])
        end
        if push[5] == "k" then
            redis.call("hset", key, "wire_list", push[3], "wire_item", ARGV[6])
        end
    end
    return {id, 1}

elseif command == "start" then
    -- ARGV: id, attempts counted by the message, fields for a job never created
    -- (put on the queue by other code). Returns {verdict, attempt, max attempts}:
    -- "run" (this delivery is that attempt), "lost" (the job was found running:
    -- the worker of that attempt died; the settle step decides, nothing changes
    -- here), or the status of a finished or cancelled job (not run). Then
    -- optionally the broker's record of the delivery done in the same step, first
    -- (whatever the verdict): index key, member, hash key, hash value (kombu's
    -- unacked index and hash, as kombu records a message it delivers: ZADD, HSET).
    local id, counted = ARGV[4], tonumber(ARGV[5])
    if ARGV[7] then
        redis.call("zadd", ARGV[7], now, ARGV[8])
        redis.call("hset", ARGV[9], ARGV[8], ARGV[10])
    end
    local key = job_key(id)
    local status = redis.call("hget", key, "status")
    if not status then
        if redis.call("exists", gone_key(id)) == 1 then
            return {"cancelled", 0, 0}
        end
        local fields = cjson.decode(ARGV[6])
        set_fields(key, fields)
        redis.call("hset", key, "attempts", 0, "unique_key", "")
        status = nil
    end
    local stored = tonumber(redis.call("hget", key, "attempts") or "0")
    local most = tonumber(redis.call("hget", key, "max_attempts") or "0")
    if status and FINISHED[status] then
        return {status, stored, most}
    elseif status == "running" then
        return {"lost", math.max(stored, 1), most}
    end
    local queue = redis.call("hget", key, "queue")
    local attempt = math.max(stored, counted) + 1
    redis.call("hset", key, "status", "running", "attempts", attempt, "started_at", now)
    redis.call("hdel", key, "wire_list", "wire_item", "missing_since")
    move(id, queue, status, "running")
    return {"run", attempt, most}

elseif command == "complete" or command == "fail" then
    -- ARGV: id, ttl, result JSON ("" for none) or last error, then optionally
    -- the broker's acknowledgement done in the same step: set key, member, hash
    -- key (SREM the member; if it was there, HDEL it from the hash), and "z" when
    -- the set is a sorted set (kombu's unacked index: ZREM, then HDEL, as kombu acks).
    -- The ack comes last: a script that fails midway keeps what it wrote, and a
    -- delivery acked before a record that could not be written would be lost.
    local id, ttl = ARGV[4], tonumber(ARGV[5])
    local function ack()
        if ARGV[10] == "z" then
            redis.call("zrem", ARGV[7], ARGV[8])
            redis.call("hdel", ARGV[9], ARGV[8])
        elseif ARGV[7] and redis.call("srem", ARGV[7], ARGV[8]) > 0 then
            redis.call("hdel", ARGV[9], ARGV[8])
        end
    end
    local key = job_key(id)
    local status = redis.call("hget", key, "status")
    if not status or FINISHED[status] then
        ack()
        return 0
    end
    local queue = redis.call("hget", key, "queue")
    local final = command == "complete" and "completed" or "failed"
    redis.call("hset", key, "status", final, "finished_at", now)
    if command == "complete" then
        redis.call("hdel", key, "last_error")
        if ARGV[6] ~= "" then redis.call("hset", key, "result", ARGV[6]) end
    else
        redis.call("hset", key, "last_error", ARGV[6])
    end
    move(id, queue, status, final)
    finish(id, queue, final, ttl)
    ack()
    return 1

elseif command == "retry" then
    -- ARGV: id, run_at, last error
    local id = ARGV[4]
    local key = job_key(id)
    local status = redis.call("hget", key, "status")
    if status ~= "running" then
        return 0
    end
    local queue = redis.call("hget", key, "queue")
    redis.call("hset", key, "status", "retrying", "run_at", ARGV[5], "last_error", ARGV[6])
    move(id, queue, status, "retrying")
    return 1

elseif command == "release" then
    -- A stopping worker gives the job back: the attempt does not count.
    local id = ARGV[4]
    local key = job_key(id)
    if redis.call("hget", key, "status") ~= "running" then
        return 0
    end
    local queue = redis.call("hget", key, "queue")
    local attempts = tonumber(redis.call("hget", key, "attempts") or "1")
    redis.call("hset", key, "status", "pending", "attempts", math.max(0, attempts - 1))
    redis.call("hdel", key, "started_at")
    move(id, queue, "running", "pending")
    return 1

elseif command == "cancel" then
    -- ARGV: id, ttl, optionally hold (seconds a message of it is refused after
    -- its run_at). Only a job that has not started; its unique key is freed.
    local id, ttl, hold = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6] or "")
    local key = job_key(id)
    local status = redis.call("hget", key, "status")
    if not status or not WAITING[status] then
        return 0
    end
    local queue = redis.call("hget", key, "queue")
    free_unique(id)
    bury(id, redis.call("hget", key, "run_at"), hold)
    redis.call("hset", key, "status", "cancelled", "finished_at", now, "unique_key", "")
    redis.call("hdel", key, "wire_list", "wire_item", "missing_since")
    move(id, queue, status, "cancelled")
    finish(id, queue, "cancelled", ttl)
    return 1

elseif command == "forget" then
    -- ARGV: id, optionally hold (as for cancel: a publish that failed may still
    -- land, and must not run), optionally the token of the create to undo (only a
    -- record that create wrote is undone). Undo a create whose message could not be
    -- published, or whose reply was lost.
    local id, hold, token = ARGV[4], tonumber(ARGV[5] or ""), ARGV[6]
    local key = job_key(id)
    local status = redis.call("hget", key, "status")
    if not status then
        return 0
    end
    if token and token ~= "" and redis.call("hget", key, "create_token") ~= token then
        return 0
    end
    local queue = redis.call("hget", key, "queue")
    free_unique(id)
    local fire = redis.call("hget", key, "fire_key")
    if fire and fire ~= "" and redis.call("get", prefix .. "fire:" .. fire) == id then
        redis.call("del", prefix .. "fire:" .. fire)
    end
    bury(id, redis.call("hget", key, "run_at"), hold)
    redis.call("zrem", index_key(queue, status), id)
    redis.call("del", key)
    return 1

elseif command == "get" then
    return redis.call("hgetall", job_key(ARGV[4]))

elseif command == "count" then
    -- ARGV: queue, ttl, statuses...
    local queue, ttl = ARGV[4], tonumber(ARGV[5])
    local total = 0
    for i = 6, #ARGV do
        local index = index_key(queue, ARGV[i])
        if FINISHED[ARGV[i]] then
            redis.call("zremrangebyscore", index, "-inf", "(" .. tostring(now - ttl))
        end
        total = total + redis.call("zcard", index)
    end
    return total

elseif command == "clear" then
    -- ARGV: queue, optionally hold (as for cancel). Forget every waiting job of
    -- the queue; return how many.
    local queue, hold = ARGV[4], tonumber(ARGV[5] or "")
    local removed = 0
    for status, _ in pairs(WAITING) do
        local index = index_key(queue, status)
        local ids = redis.call("zrange", index, 0, -1)
        for _, id in ipairs(ids) do
            free_unique(id)
            bury(id, redis.call("hget", job_key(id), "run_at"), hold)
            redis.call("del", job_key(id))
            removed = removed + 1
        end
        redis.call("del", index)
    end
    return removed

elseif command == "reconcile" then
    -- ARGV: the broker's unacknowledged-messages hash, lease, batch, scan, the
    -- seconds a message must stay missing, then queue names. Celery on a Redis
    -- broker: kombu pops a message (BRPOP) and records it as unacknowledged in a
    -- second command, so a worker killed between the two loses the message while
    -- its record waits forever. A waiting record older than the lease, whose kept
    -- copy is neither unacknowledged nor among the last `scan` items of its list
    -- (when the list is no longer than that), is marked missing; found so again
    -- `confirm` seconds later (not a delivery in flight), the copy is pushed back
    -- at the consuming end. A list longer than `scan` is left for a later pass.
    -- Returns the ids pushed back.
    local unacked, lease, batch = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
    local scan, confirm = tonumber(ARGV[7]), tonumber(ARGV[8])
    local pushed = {}
    for i = 9, #ARGV do
        local queue = ARGV[i]
        for _, status in ipairs({"pending", "scheduled"}) do
            local index = index_key(queue, status)
            local ids = redis.call("zrangebyscore", index, "-inf", now - lease, "LIMIT", 0, batch)
            for _, id in ipairs(ids) do
                local key = job_key(id)
                local found = redis.call("hmget", key, "wire_list", "wire_item", "missing_since")
                local list, item, missing = found[1], found[2], tonumber(found[3] or "")
                if list and item then
                    local ok, message = pcall(cjson.decode, item)
                    local properties = ok and type(message) == "table" and message.properties
                    local tag = type(properties) == "table" and properties.delivery_tag
                    local present = type(tag) == "string" and redis.call("hexists", unacked, tag) == 1
                    if not present then
                        present = redis.call("llen", list) > scan
                            or redis.call("lpos", list, item, "RANK", -1, "MAXLEN", scan) ~= false
                    end
                    if present then
                        if missing then redis.call("hdel", key, "missing_since") end
                    elseif not missing then
                        redis.call("hset", key, "missing_since", now)
                    elseif now - missing >= confirm then
                        redis.call("rpush", list, item)
                        redis.call("hdel", key, "missing_since")
                        redis.call("zadd", index, now, id)
                        pushed[#pushed + 1] = id
                    end
                end
            end
        end
    end
    return pushed

end

return redis.error_reply("unknown command " .. tostring(command))
end

-- "many": several calls in one script call (one command for the client to send and
-- parse, instead of one per call). ARGV[2] is the number of calls, then each call's
-- argument count and arguments. The reply is each call's reply, or its error, in
-- order; a call that fails does not stop the next ones (as separate calls).
if ARGV[1] == "many" then
    local replies = {}
    local at = 3
    for c = 1, tonumber(ARGV[2]) do
        local count = tonumber(ARGV[at])
        local ok, reply = pcall(run, {unpack(ARGV, at + 1, at + count)})
        at = at + count + 1
        if not ok then
            if type(reply) == "table" and reply.err then
                replies[c] = reply
            else
                replies[c] = redis.error_reply(tostring(reply))
            end
        elseif reply == nil then
            replies[c] = false
        else
            replies[c] = reply
        end
    end
    return replies
end
return run(ARGV)
