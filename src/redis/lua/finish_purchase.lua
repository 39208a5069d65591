-- The tickets are committed: the seats are sold for good (no TTL) and the hold is done.
-- KEYS[1] reservation hash, KEYS[2] the user's held-seats zset.
-- ARGV[1] seat key prefix, ARGV[2] retention ms, ARGV[3..] seat labels.
for i = 3, #ARGV do
  redis.call('SET', ARGV[1] .. ARGV[i], 'sold')
  redis.call('ZREM', KEYS[2], ARGV[i])
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'p', 'sold')
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 'ok'
