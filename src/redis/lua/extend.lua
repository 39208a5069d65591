-- Moves a live hold's deadline to now + ttl, never past created + max lifetime, never earlier.
-- KEYS[1] reservation hash, KEYS[2] the user's held-seats zset, KEYS[3] hold deadlines zset.
-- ARGV[1] hold token, ARGV[2] user id, ARGV[3] ttl ms, ARGV[4] max lifetime ms,
-- ARGV[5] seat key prefix, ARGV[6] retention ms.
local refusal, h, labels = live_hold(KEYS[1], ARGV[1], ARGV[2], ARGV[5])
if refusal then return {refusal} end
if h[2] == 'purchasing' then return {'purchasing'} end
local now = now_ms()
local old = tonumber(h[3])
local wanted = math.min(now + tonumber(ARGV[3]), tonumber(h[4]) + tonumber(ARGV[4]))
local deadline = math.max(old, wanted)
local keys = {hold = KEYS[1], user = KEYS[2], deadlines = KEYS[3], seat_prefix = ARGV[5]}
set_deadline(keys, ARGV[1], labels, old, deadline, tonumber(ARGV[6]), now)
return {'ok', ms(deadline), h[5]}
