-- Records seats as sold (no TTL), publishing SOLD for each that was not sold yet.
-- ARGV[1] = '1' when this completes the event's sold list.
-- KEYS[1] sold-seats-loaded marker, KEYS[2] change version counter, KEYS[3..] seat keys.
-- ARGV[2] feed channel, ARGV[3] event id, ARGV[4..] seat labels (key order).
-- Returns the event's version.
local at = ms(now_ms())
for i = 3, #KEYS do
  if redis.call('GET', KEYS[i]) ~= 'sold' then
    redis.call('SET', KEYS[i], 'sold')
    publish(KEYS[2], ARGV[2], ARGV[3], ARGV[i + 1], 'S', at)
  end
end
if ARGV[1] == '1' then redis.call('SET', KEYS[1], '1') end
return redis.call('GET', KEYS[2]) or '0'
