-- Holds every seat or none, and publishes one RESERVED change per seat.
-- Returns {'ok', deadline, the event's version}, {'taken', labels…}, {'limit', held} or {'not_loaded'}.
-- KEYS[1] sold-seats-loaded marker, KEYS[2] reservation hash, KEYS[3] the user's held-seats zset,
-- KEYS[4] change version counter, KEYS[5] hold deadlines zset, KEYS[6..] seat keys.
-- ARGV[1] hold token, ARGV[2] ttl ms, ARGV[3] user id, ARGV[4] max seats per user,
-- ARGV[5] retention ms, ARGV[6] feed channel, ARGV[7] event id, ARGV[8..] seat labels (key order).
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_loaded'} end
local n = #KEYS - 5
local taken = {'taken'}
for i = 1, n do
  if redis.call('EXISTS', KEYS[i + 5]) == 1 then taken[#taken + 1] = ARGV[i + 7] end
end
if #taken > 1 then return taken end
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local held = redis.call('ZCARD', KEYS[3])
if held + n > tonumber(ARGV[4]) then return {'limit', tostring(held)} end
local ttl = tonumber(ARGV[2])
local d = ms(now + ttl)
local at = ms(now)
local labels = {}
for i = 1, n do
  local label = ARGV[i + 7]
  redis.call('SET', KEYS[i + 5], ARGV[1], 'PX', ttl)
  redis.call('ZADD', KEYS[3], d, label)
  publish(KEYS[4], ARGV[6], ARGV[7], label, 'R', at)
  labels[i] = label
end
if redis.call('PTTL', KEYS[3]) < ttl then redis.call('PEXPIRE', KEYS[3], ttl) end
redis.call('ZADD', KEYS[5], d, ARGV[1])
redis.call('HSET', KEYS[2], 'u', ARGV[3], 'p', 'held', 'd', d, 'c', at, 's', table.concat(labels, ','))
redis.call('PEXPIRE', KEYS[2], ttl + tonumber(ARGV[5]))
return {'ok', d, redis.call('GET', KEYS[4])}
