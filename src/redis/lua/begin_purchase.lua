-- Moves a live hold of this user to 'purchasing' and makes it stand at least ARGV[3] ms more.
-- KEYS[1] reservation hash, KEYS[2] the user's held-seats zset, KEYS[3] hold deadlines zset.
-- ARGV[1] hold token, ARGV[2] user id, ARGV[3] lease ms, ARGV[4] seat key prefix, ARGV[5] retention ms.
local h = redis.call('HMGET', KEYS[1], 'u', 'p', 'd', 's')
if not h[1] then return {'unknown'} end
if h[1] ~= ARGV[2] then return {'not_owner'} end
if h[2] == 'sold' then return {'sold'} end
if h[2] == 'released' then return {'released'} end
local labels = {}
for label in string.gmatch(h[4], '[^,]+') do
  if redis.call('GET', ARGV[4] .. label) ~= ARGV[1] then return {'expired'} end
  labels[#labels + 1] = label
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = math.max(tonumber(h[3]), now + tonumber(ARGV[3]))
local d = string.format('%.0f', deadline)
if deadline > tonumber(h[3]) then
  for _, label in ipairs(labels) do
    redis.call('PEXPIREAT', ARGV[4] .. label, d)
    redis.call('ZADD', KEYS[2], 'XX', d, label)
  end
  if redis.call('PTTL', KEYS[2]) < deadline - now then redis.call('PEXPIREAT', KEYS[2], d) end
  redis.call('ZADD', KEYS[3], 'XX', d, ARGV[1])
  redis.call('HSET', KEYS[1], 'd', d)
  redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', deadline + tonumber(ARGV[5])))
end
redis.call('HSET', KEYS[1], 'p', 'purchasing')
return {'ok', d, h[4]}
