-- Records seats as sold (no TTL), publishing SOLD for each that was not sold yet.
-- ARGV[1] = '1' when this completes the event's sold list.
-- KEYS[1] sold-seats-loaded marker, KEYS[2] change version counter, KEYS[3..] seat keys.
-- ARGV[2] feed channel, ARGV[3] event id, ARGV[4..] seat labels (key order).
local t = redis.call('TIME')
local at = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
for i = 3, #KEYS do
  if redis.call('GET', KEYS[i]) ~= 'sold' then
    redis.call('SET', KEYS[i], 'sold')
    local v = redis.call('INCR', KEYS[2])
    redis.call('PUBLISH', ARGV[2], ARGV[3] .. '|' .. ARGV[i + 1] .. '|S|' .. v .. '|' .. at)
  end
end
if ARGV[1] == '1' then redis.call('SET', KEYS[1], '1') end
return 'ok'
