-- The tickets are committed: the seats are sold for good (no TTL) and the hold has ended.
-- KEYS[1] reservation hash, KEYS[2] the user's held-seats zset, KEYS[3] change version counter,
-- KEYS[4] hold deadlines zset.
-- ARGV[1] seat key prefix, ARGV[2] retention ms, ARGV[3] feed channel, ARGV[4] event id,
-- ARGV[5] hold token, ARGV[6..] seat labels. Returns the event's version.
local at = ms(now_ms())
local labels = {}
for i = 6, #ARGV do
  local key = ARGV[1] .. ARGV[i]
  local previous = redis.call('GET', key)
  redis.call('SET', key, 'sold')
  if previous ~= 'sold' then publish(KEYS[3], ARGV[3], ARGV[4], ARGV[i], 'S', at) end
  labels[#labels + 1] = ARGV[i]
end
local keys = {hold = KEYS[1], user = KEYS[2], deadlines = KEYS[4]}
end_hold(keys, ARGV[5], labels, 'sold', ARGV[2])
return redis.call('GET', KEYS[3]) or '0'
