-- Prepended to every hold script: the checks and effects of the hold lifecycle
-- (src/domain/lifecycle), repeated here because one round trip per operation is the point of the
-- scripts. The HoldStore contract suite runs the same cases against these and the in-process
-- store.

-- Redis's clock, in Unix milliseconds.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function ms(n)
  return string.format('%.0f', n)
end

-- The labels of a hold (its 's' field: labels joined by ',').
local function labels_of(joined)
  local labels = {}
  for label in string.gmatch(joined or '', '[^,]+') do labels[#labels + 1] = label end
  return labels
end

-- Best available's index of taken seats (`prepare_best.lua` builds it, every change keeps it):
-- `<tag>:x` maps a row's label prefix to the layout index of its seat 1, `<tag>:b` is a bitmap by
-- layout index (set while the seat is held or sold), `<tag>:f` counts each row's clear bits. They
-- sit beside the version key `<tag>:v`.
local function set_taken(tag, prefix, index, bit)
  if redis.call('SETBIT', tag .. 'b', index, bit) ~= bit then
    redis.call('HINCRBY', tag .. 'f', prefix, 1 - 2 * bit)
  end
end

-- Keeps the index in step with a change; before the index exists there is nothing to keep.
local function note_taken(version_key, label, code)
  local tag = string.sub(version_key, 1, -2)
  local prefix, number = string.match(label, '^(.-)(%d+)$')
  if not prefix then return end
  local first = redis.call('HGET', tag .. 'x', prefix)
  if not first then return end
  local bit = 0
  if code == 'R' or code == 'S' then bit = 1 end
  set_taken(tag, prefix, tonumber(first) + tonumber(number) - 1, bit)
end

-- Publishes one seat change with the event's next version: `event|label|code|version|at`.
local function publish(version_key, channel, event, label, code, at)
  note_taken(version_key, label, code)
  local v = redis.call('INCR', version_key)
  redis.call('PUBLISH', channel, event .. '|' .. label .. '|' .. code .. '|' .. v .. '|' .. at)
end

-- The checks every operation on a hold makes, in the lifecycle's order: known, the caller's,
-- not sold, not released, every seat still carrying it (an expired key reads nil).
-- Returns nil, the hold's fields {u, p, d, c, s} and its labels; or a refusal.
local function live_hold(hash_key, token, user, seat_prefix)
  local h = redis.call('HMGET', hash_key, 'u', 'p', 'd', 'c', 's')
  if not h[1] then return 'unknown' end
  if h[1] ~= user then return 'not_owner' end
  if h[2] == 'sold' then return 'sold' end
  if h[2] == 'released' then return 'released' end
  local labels = labels_of(h[5])
  for _, label in ipairs(labels) do
    if redis.call('GET', seat_prefix .. label) ~= token then return 'expired' end
  end
  return nil, h, labels
end

-- Moves a live hold's deadline from `old` to `deadline` (only ever later) on every key.
local function set_deadline(keys, token, labels, old, deadline, retention, now)
  if deadline <= old then return end
  local d = ms(deadline)
  for _, label in ipairs(labels) do
    redis.call('PEXPIREAT', keys.seat_prefix .. label, d)
    redis.call('ZADD', keys.user, 'XX', d, label)
  end
  if redis.call('PTTL', keys.user) < deadline - now then redis.call('PEXPIREAT', keys.user, d) end
  redis.call('ZADD', keys.deadlines, 'XX', d, token)
  redis.call('HSET', keys.hold, 'd', d)
  redis.call('PEXPIREAT', keys.hold, ms(deadline + retention))
end

-- Seats a hold let go cool down: its user (and its client, when known) may not hold them again
-- for the hold's cool-down. `cool` = {prefix = cool-down key prefix, user, client, length (ms,
-- as stored in the hold: 'cd'), now}; nil or a zero length: no cool-down.
local function cool_down(cool, labels)
  local length = cool and tonumber(cool.length or '0') or 0
  if length <= 0 or #labels == 0 then return end
  local till = ms(cool.now + length)
  local keys = {cool.prefix .. 'u:' .. cool.user}
  if cool.client and cool.client ~= '' then keys[2] = cool.prefix .. 'c:' .. cool.client end
  for _, key in ipairs(keys) do
    for _, label in ipairs(labels) do redis.call('ZADD', key, till, label) end
    if redis.call('PTTL', key) < length then redis.call('PEXPIRE', key, length) end
  end
end

-- A lapsed hold, already taken off the deadline set: its seats that still carry it, or whose
-- key Redis has already expired, go free, are reported EXPIRED and cool down.
local function expire_hold(token, labels, seat_prefix, version_key, channel, event, at, cool)
  local freed = {}
  for _, label in ipairs(labels) do
    local key = seat_prefix .. label
    local value = redis.call('GET', key)
    if value == token then redis.call('DEL', key) end
    if value == token or not value then
      publish(version_key, channel, event, label, 'E', at)
      freed[#freed + 1] = label
    end
  end
  cool_down(cool, freed)
end

-- A hold ended (sold or released): no longer counted for its user, no longer due, remembered
-- for `retention` ms from now.
local function end_hold(keys, token, labels, phase, retention)
  for _, label in ipairs(labels) do redis.call('ZREM', keys.user, label) end
  redis.call('ZREM', keys.deadlines, token)
  if redis.call('EXISTS', keys.hold) == 1 then
    redis.call('HSET', keys.hold, 'p', phase)
    redis.call('PEXPIRE', keys.hold, retention)
  end
end

-- Holds `labels` (whose keys are `seat_keys`) for reserve.lua and reserve_best.lua: all or none.
-- K and A are reserve.lua's KEYS[1..8] and ARGV[1..11] (see its header); returns its reply.
local function hold_seats(K, A, labels, seat_keys)
  local n = #labels
  local taken = {'taken'}
  for i = 1, n do
    if redis.call('EXISTS', seat_keys[i]) == 1 then taken[#taken + 1] = labels[i] end
  end
  if #taken > 1 then return taken end
  local now = now_ms()
  if tonumber(A[10]) > 0 then
    local cooling = {'cooling'}
    redis.call('ZREMRANGEBYSCORE', K[7], '-inf', now)
    redis.call('ZREMRANGEBYSCORE', K[8], '-inf', now)
    for i = 1, n do
      local label = labels[i]
      if redis.call('ZSCORE', K[7], label) or redis.call('ZSCORE', K[8], label) then
        cooling[#cooling + 1] = label
      end
    end
    if #cooling > 1 then return cooling end
  end
  redis.call('ZREMRANGEBYSCORE', K[3], '-inf', now)
  local held = redis.call('ZCARD', K[3])
  if held + n > tonumber(A[4]) then return {'limit', tostring(held)} end
  local client_max = tonumber(A[8])
  if client_max > 0 then
    redis.call('ZREMRANGEBYSCORE', K[6], '-inf', now)
    local took = redis.call('ZCARD', K[6])
    if took + n > client_max then return {'client_limit', tostring(took)} end
    local window = tonumber(A[9])
    for i = 1, n do redis.call('ZADD', K[6], ms(now + window), A[1] .. ':' .. labels[i]) end
    redis.call('PEXPIRE', K[6], window)
  end
  local ttl = tonumber(A[2])
  local d = ms(now + ttl)
  local at = ms(now)
  for i = 1, n do
    redis.call('SET', seat_keys[i], A[1], 'PX', ttl)
    redis.call('ZADD', K[3], d, labels[i])
    publish(K[4], A[6], A[7], labels[i], 'R', at)
  end
  if redis.call('PTTL', K[3]) < ttl then redis.call('PEXPIRE', K[3], ttl) end
  redis.call('ZADD', K[5], d, A[1])
  redis.call('HSET', K[2], 'u', A[3], 'p', 'held', 'd', d, 'c', at, 's', table.concat(labels, ','),
    'cd', A[10], 'ip', A[11])
  redis.call('PEXPIRE', K[2], ttl + tonumber(A[5]))
  return {'ok', d, redis.call('GET', K[4]), tostring(held + n)}
end

-- The script proper follows.
