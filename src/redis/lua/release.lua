-- Frees a hold's seats now; compare-and-delete, so a seat already taken by the next holder stays his.
-- KEYS[1] reservation hash, KEYS[2] the user's held-seats zset, KEYS[3] change version counter,
-- KEYS[4] hold deadlines zset.
-- ARGV[1] hold token, ARGV[2] user id, ARGV[3] seat key prefix, ARGV[4] retention ms,
-- ARGV[5] feed channel, ARGV[6] event id.
local h = redis.call('HMGET', KEYS[1], 'u', 'p', 's')
if not h[1] then return 'unknown' end
if h[1] ~= ARGV[2] then return 'not_owner' end
if h[2] == 'sold' then return 'sold' end
if h[2] == 'released' then return 'ok' end
local labels, mine = {}, {}
for label in string.gmatch(h[3], '[^,]+') do
  labels[#labels + 1] = label
  if redis.call('GET', ARGV[3] .. label) == ARGV[1] then mine[#mine + 1] = label end
end
if h[2] == 'purchasing' and #mine > 0 then return 'purchasing' end
local t = redis.call('TIME')
local at = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
for _, label in ipairs(labels) do redis.call('ZREM', KEYS[2], label) end
for _, label in ipairs(mine) do
  redis.call('DEL', ARGV[3] .. label)
  local v = redis.call('INCR', KEYS[3])
  redis.call('PUBLISH', ARGV[5], ARGV[6] .. '|' .. label .. '|L|' .. v .. '|' .. at)
end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HSET', KEYS[1], 'p', 'released')
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 'ok'
