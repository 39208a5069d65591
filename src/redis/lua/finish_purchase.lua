-- The tickets are committed: the seats are sold for good (no TTL) and the hold is done.
-- KEYS[1] reservation hash, KEYS[2] the user's held-seats zset, KEYS[3] change version counter,
-- KEYS[4] hold deadlines zset.
-- ARGV[1] seat key prefix, ARGV[2] retention ms, ARGV[3] feed channel, ARGV[4] event id,
-- ARGV[5] hold token, ARGV[6..] seat labels.
local t = redis.call('TIME')
local at = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
for i = 6, #ARGV do
  local key = ARGV[1] .. ARGV[i]
  local previous = redis.call('GET', key)
  redis.call('SET', key, 'sold')
  redis.call('ZREM', KEYS[2], ARGV[i])
  if previous ~= 'sold' then
    local v = redis.call('INCR', KEYS[3])
    redis.call('PUBLISH', ARGV[3], ARGV[4] .. '|' .. ARGV[i] .. '|S|' .. v .. '|' .. at)
  end
end
redis.call('ZREM', KEYS[4], ARGV[5])
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'p', 'sold')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 'ok'
