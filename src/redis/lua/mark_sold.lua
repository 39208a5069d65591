-- Records seats as sold (no TTL). ARGV[1] = '1' when this completes the event's sold list.
-- KEYS[1] sold-seats-loaded marker, KEYS[2..] seat keys.
for i = 2, #KEYS do redis.call('SET', KEYS[i], 'sold') end
if ARGV[1] == '1' then redis.call('SET', KEYS[1], '1') end
return 'ok'
