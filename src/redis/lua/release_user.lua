-- Frees every live hold of one user in one event (the user deleted their account), as
-- release.lua would; holds being purchased are left to finish.
-- KEYS[1] the user's held-seats zset, KEYS[2] change version counter, KEYS[3] hold deadlines zset.
-- ARGV[1] seat key prefix, ARGV[2] reservation key prefix, ARGV[3] user id, ARGV[4] retention ms,
-- ARGV[5] feed channel, ARGV[6] event id.
-- Returns the number of holds released.
local tokens = {}
for _, label in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local value = redis.call('GET', ARGV[1] .. label)
  if value and value ~= 'sold' then tokens[value] = true end
end
local now = now_ms()
local at = ms(now)
local released = 0
for token in pairs(tokens) do
  local hold = ARGV[2] .. token
  local h = redis.call('HMGET', hold, 'u', 'p', 'd', 's')
  if h[1] == ARGV[3] and h[2] == 'held' and tonumber(h[3]) > now then
    local labels = labels_of(h[4])
    for _, label in ipairs(labels) do
      if redis.call('GET', ARGV[1] .. label) == token then
        redis.call('DEL', ARGV[1] .. label)
        publish(KEYS[2], ARGV[5], ARGV[6], label, 'L', at)
      end
    end
    end_hold({hold = hold, user = KEYS[1], deadlines = KEYS[3]}, token, labels, 'released', ARGV[4])
    released = released + 1
  end
end
return released
