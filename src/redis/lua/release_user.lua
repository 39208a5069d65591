-- Frees every hold of one user in one event (the user deleted their account). Holds being
-- purchased are left to finish. Compare-and-delete, as release.lua.
-- KEYS[1] the user's held-seats zset, KEYS[2] change version counter, KEYS[3] hold deadlines zset.
-- ARGV[1] seat key prefix, ARGV[2] reservation key prefix, ARGV[3] user id, ARGV[4] retention ms,
-- ARGV[5] feed channel, ARGV[6] event id.
-- Returns the number of holds released.
local tokens = {}
for _, label in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local value = redis.call('GET', ARGV[1] .. label)
  if value and value ~= 'sold' then tokens[value] = true end
end
local t = redis.call('TIME')
local at = string.format('%.0f', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000))
local released = 0
for token in pairs(tokens) do
  local key = ARGV[2] .. token
  local h = redis.call('HMGET', key, 'u', 'p', 's')
  if h[1] == ARGV[3] and h[2] == 'held' then
    for label in string.gmatch(h[3], '[^,]+') do
      redis.call('ZREM', KEYS[1], label)
      if redis.call('GET', ARGV[1] .. label) == token then
        redis.call('DEL', ARGV[1] .. label)
        local v = redis.call('INCR', KEYS[2])
        redis.call('PUBLISH', ARGV[5], ARGV[6] .. '|' .. label .. '|L|' .. v .. '|' .. at)
      end
    end
    redis.call('ZREM', KEYS[3], token)
    redis.call('HSET', key, 'p', 'released')
    redis.call('PEXPIRE', key, ARGV[4])
    released = released + 1
  end
end
return released
