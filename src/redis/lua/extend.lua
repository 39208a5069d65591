-- Moves a live hold's deadline to now + ttl, never past created + max lifetime, never earlier.
-- KEYS[1] reservation hash, KEYS[2] the user's held-seats zset, KEYS[3] hold deadlines zset.
-- ARGV[1] hold token, ARGV[2] user id, ARGV[3] ttl ms, ARGV[4] max lifetime ms,
-- ARGV[5] seat key prefix, ARGV[6] retention ms.
local h = redis.call('HMGET', KEYS[1], 'u', 'p', 'd', 'c', 's')
if not h[1] then return {'unknown'} end
if h[1] ~= ARGV[2] then return {'not_owner'} end
if h[2] == 'sold' then return {'sold'} end
if h[2] == 'released' then return {'released'} end
local labels = {}
for label in string.gmatch(h[5], '[^,]+') do
  if redis.call('GET', ARGV[5] .. label) ~= ARGV[1] then return {'expired'} end
  labels[#labels + 1] = label
end
if h[2] == 'purchasing' then return {'purchasing'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wanted = math.min(now + tonumber(ARGV[3]), tonumber(h[4]) + tonumber(ARGV[4]))
local deadline = math.max(tonumber(h[3]), wanted)
local d = string.format('%.0f', deadline)
if deadline > tonumber(h[3]) then
  for _, label in ipairs(labels) do
    redis.call('PEXPIREAT', ARGV[5] .. label, d)
    redis.call('ZADD', KEYS[2], 'XX', d, label)
  end
  if redis.call('PTTL', KEYS[2]) < deadline - now then redis.call('PEXPIREAT', KEYS[2], d) end
  redis.call('ZADD', KEYS[3], 'XX', d, ARGV[1])
  redis.call('HSET', KEYS[1], 'd', d)
  redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', deadline + tonumber(ARGV[6])))
end
return {'ok', d, h[5]}
