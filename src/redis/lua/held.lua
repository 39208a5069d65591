-- Counts the seats the event's live holds hold right now (for the seats-held gauge).
-- KEYS[1] hold deadlines zset. ARGV[1] seat key prefix, ARGV[2] reservation key prefix.
-- Returns the number of seats whose key still carries the token of a hold in the zset.
local n = 0
for _, token in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local labels = redis.call('HGET', ARGV[2] .. token, 's')
  if labels then
    for label in string.gmatch(labels, '[^,]+') do
      if redis.call('GET', ARGV[1] .. label) == token then n = n + 1 end
    end
  end
end
return n
