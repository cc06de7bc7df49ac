-- Job state kept in Redis for engines whose broker keeps none (Dramatiq, Celery).
--
-- One script, one command per call (ARGV[1]), so every state change is atomic.
-- Key layout, under the prefix P (ARGV[2]):
--   P job:<id>                 hash: the job record (fields in redis_state.py)
--   P idx:<queue>:<status>     zset: job ids in that status, scored by the time
--                              they entered it (finished ones expire by score)
--   P unique:<key>             string: the job id holding an idempotency key or
--                              a schedule fire time
--   P gone:<id>                string: a cancelled or cleared job, so a message
--                              of it still on the broker never brings it back
--   P fire:<key>               string: a schedule fire time already enqueued,
--                              kept apart from the job record's retention
-- ARGV[3] is the current time in seconds (float) for every command.

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
    -- ARGV: id, queue, status, unique key ("" for none), n, then n field/value
    -- pairs of the record, then optionally the message to publish with it,
    -- atomically, when the job is new (a Redis broker's queue): hash key, hash
    -- field, payload (HSET; "" hash key for none), list key, list value, "l" or
    -- "r" (LPUSH / RPUSH).
    local id, queue, status, unique = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
    if unique ~= "" then
        local holder = redis.call("get", unique_key(unique))
        if holder and redis.call("exists", job_key(holder)) == 1 then
            return {holder, 0}
        end
    end
    local key = job_key(id)
    if redis.call("exists", key) == 1 then
        return {id, 0}
    end
    local n = tonumber(ARGV[8])
    local record = {"status", status, "queue", queue, "unique_key", unique}
    for i = 9, 8 + 2 * n do
        record[#record + 1] = ARGV[i]
    end
    redis.call("hset", key, unpack(record))
    move(id, queue, nil, status)
    if unique ~= "" then
        redis.call("set", unique_key(unique), id)
    end
    local p = 9 + 2 * n
    if ARGV[p] then
        if ARGV[p] ~= "" then redis.call("hset", ARGV[p], ARGV[p + 1], ARGV[p + 2]) end
        if ARGV[p + 5] == "l" then
            redis.call("lpush", ARGV[p + 3], ARGV[p + 4])
        else
            redis.call("rpush", ARGV[p + 3], ARGV[p + 4])
        end
    end
    return {id, 1}

elseif command == "start" then
    -- ARGV: id, attempts counted by the message, fields for a job never created
    -- (put on the queue by other code). Returns {verdict, attempt}.
    local id, counted = ARGV[4], tonumber(ARGV[5])
    local key = job_key(id)
    local status = redis.call("hget", key, "status")
    if not status then
        if redis.call("exists", gone_key(id)) == 1 then
            return {"cancelled", 0}
        end
        local fields = cjson.decode(ARGV[6])
        set_fields(key, fields)
        redis.call("hset", key, "attempts", 0, "unique_key", "")
        status = nil
    elseif FINISHED[status] then
        return {status, tonumber(redis.call("hget", key, "attempts") or "0")}
    end
    local queue = redis.call("hget", key, "queue")
    local stored = tonumber(redis.call("hget", key, "attempts") or "0")
    -- A job seen running again was left by a worker that died: a new attempt.
    local attempt = math.max(stored, counted) + 1
    redis.call("hset", key, "status", "running", "attempts", attempt, "started_at", now)
    move(id, queue, status, "running")
    return {"run", attempt}

elseif command == "complete" or command == "fail" then
    -- ARGV: id, ttl, result JSON ("" for none) or last error, then optionally
    -- the broker's acknowledgement done in the same step: set key, member, hash
    -- key (SREM the member; if it was there, HDEL it from the hash).
    local id, ttl = ARGV[4], tonumber(ARGV[5])
    if ARGV[7] and redis.call("srem", ARGV[7], ARGV[8]) > 0 then
        redis.call("hdel", ARGV[9], ARGV[8])
    end
    local key = job_key(id)
    local status = redis.call("hget", key, "status")
    if not status or FINISHED[status] then
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
    local held = redis.call("hget", key, "unique_key")
    if held and held ~= "" and redis.call("get", unique_key(held)) == id then
        redis.call("del", unique_key(held))
    end
    bury(id, redis.call("hget", key, "run_at"), hold)
    redis.call("hset", key, "status", "cancelled", "finished_at", now, "unique_key", "")
    move(id, queue, status, "cancelled")
    finish(id, queue, "cancelled", ttl)
    return 1

elseif command == "forget" then
    -- ARGV: id. Undo a create whose message could not be published.
    local id = ARGV[4]
    local key = job_key(id)
    local status = redis.call("hget", key, "status")
    if not status then
        return 0
    end
    local queue = redis.call("hget", key, "queue")
    local held = redis.call("hget", key, "unique_key")
    if held and held ~= "" and redis.call("get", unique_key(held)) == id then
        redis.call("del", unique_key(held))
    end
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
            local held = redis.call("hget", job_key(id), "unique_key")
            if held and held ~= "" and redis.call("get", unique_key(held)) == id then
                redis.call("del", unique_key(held))
            end
            bury(id, redis.call("hget", job_key(id), "run_at"), hold)
            redis.call("del", job_key(id))
            removed = removed + 1
        end
        redis.call("del", index)
    end
    return removed

elseif command == "guard" then
    -- ARGV: key, holder, ttl: a plain SET NX (a schedule fire time, a lock).
    local ok = redis.call("set", unique_key(ARGV[4]), ARGV[5], "NX", "PX", math.max(1, math.floor(tonumber(ARGV[6]) * 1000)))
    if ok then return 1 end
    return 0

elseif command == "fire" then
    -- ARGV: key, holder, ttl: claim a schedule fire time (SET NX under fire:,
    -- apart from the job's unique key, which expires with the job). Returns the
    -- {holder, 1} when this caller claimed it, {holder, 0} when another did.
    local key = prefix .. "fire:" .. ARGV[4]
    local ok = redis.call("set", key, ARGV[5], "NX", "PX", math.max(1, math.floor(tonumber(ARGV[6]) * 1000)))
    if ok then return {ARGV[5], 1} end
    return {redis.call("get", key) or ARGV[5], 0}

elseif command == "unfire" then
    -- ARGV: key, holder: give back a fire time whose job could not be enqueued.
    local key = prefix .. "fire:" .. ARGV[4]
    if redis.call("get", key) == ARGV[5] then
        redis.call("del", key)
        return 1
    end
    return 0
end

return redis.error_reply("unknown command " .. tostring(command))
