-- Holds every seat or none, and publishes one RESERVED change per seat.
-- Returns {'ok', deadline, the event's version, seats the user now holds in the event},
-- {'taken', labels…}, {'limit', held},
-- {'client_limit', taken}, {'cooling', labels…} or {'not_loaded'}.
-- KEYS[1] sold-seats-loaded marker, KEYS[2] reservation hash, KEYS[3] the user's held-seats zset,
-- KEYS[4] change version counter, KEYS[5] hold deadlines zset, KEYS[6] the client's taken-seats
-- zset, KEYS[7] the user's and KEYS[8] the client's cooling seats zsets, KEYS[9..] seat keys.
-- ARGV[1] hold token, ARGV[2] ttl ms, ARGV[3] user id, ARGV[4] max seats per user,
-- ARGV[5] retention ms, ARGV[6] feed channel, ARGV[7] event id, ARGV[8] max seats per client
-- (0: no client limit), ARGV[9] client window ms, ARGV[10] cool-down ms (0: none), ARGV[11] the
-- client's address ('' unknown), ARGV[12..] seat labels (key order).
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_loaded'} end
local n = #KEYS - 8
local taken = {'taken'}
for i = 1, n do
  if redis.call('EXISTS', KEYS[i + 8]) == 1 then taken[#taken + 1] = ARGV[i + 11] end
end
if #taken > 1 then return taken end
local now = now_ms()
if tonumber(ARGV[10]) > 0 then
  local cooling = {'cooling'}
  redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now)
  redis.call('ZREMRANGEBYSCORE', KEYS[8], '-inf', now)
  for i = 1, n do
    local label = ARGV[i + 11]
    if redis.call('ZSCORE', KEYS[7], label) or redis.call('ZSCORE', KEYS[8], label) then
      cooling[#cooling + 1] = label
    end
  end
  if #cooling > 1 then return cooling end
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local held = redis.call('ZCARD', KEYS[3])
if held + n > tonumber(ARGV[4]) then return {'limit', tostring(held)} end
local client_max = tonumber(ARGV[8])
if client_max > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now)
  local took = redis.call('ZCARD', KEYS[6])
  if took + n > client_max then return {'client_limit', tostring(took)} end
  local window = tonumber(ARGV[9])
  for i = 1, n do redis.call('ZADD', KEYS[6], ms(now + window), ARGV[1] .. ':' .. ARGV[i + 11]) end
  redis.call('PEXPIRE', KEYS[6], window)
end
local ttl = tonumber(ARGV[2])
local d = ms(now + ttl)
local at = ms(now)
local labels = {}
for i = 1, n do
  local label = ARGV[i + 11]
  redis.call('SET', KEYS[i + 8], ARGV[1], 'PX', ttl)
  redis.call('ZADD', KEYS[3], d, label)
  publish(KEYS[4], ARGV[6], ARGV[7], label, 'R', at)
  labels[i] = label
end
if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
redis.call('ZADD', KEYS[5], d, ARGV[1])
redis.call('HSET', KEYS[2], 'u', ARGV[3], 'p', 'held', 'd', d, 'c', at, 's', table.concat(labels, ','),
  'cd', ARGV[10], 'ip', ARGV[11])
redis.call('PEXPIRE', KEYS[2], ttl + tonumber(ARGV[5]))
return {'ok', d, redis.call('GET', KEYS[4]), tostring(held + n)}
