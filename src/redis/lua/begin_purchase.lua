-- Moves a live hold of this user to 'purchasing' and makes it stand at least ARGV[3] ms more.
-- KEYS[1] reservation hash, KEYS[2] the user's held-seats zset, KEYS[3] hold deadlines zset.
-- ARGV[1] hold token, ARGV[2] user id, ARGV[3] lease ms, ARGV[4] seat key prefix, ARGV[5] retention ms.
local refusal, h, labels = live_hold(KEYS[1], ARGV[1], ARGV[2], ARGV[4])
if refusal then return {refusal} end
local now = now_ms()
local old = tonumber(h[3])
local deadline = math.max(old, now + tonumber(ARGV[3]))
local keys = {hold = KEYS[1], user = KEYS[2], deadlines = KEYS[3], seat_prefix = ARGV[4]}
set_deadline(keys, ARGV[1], labels, old, deadline, tonumber(ARGV[5]), now)
redis.call('HSET', KEYS[1], 'p', 'purchasing')
return {'ok', ms(deadline), h[5]}
