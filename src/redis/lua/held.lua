-- Counts the seats held right now by a slice of the event's live holds (for the seats-held
-- gauge), so that no single call keeps Redis busy for long.
-- KEYS[1] hold deadlines zset. ARGV[1] seat key prefix, ARGV[2] reservation key prefix,
-- ARGV[3] first index of the slice, ARGV[4] slice length.
-- Returns {seats whose key still carries the token of a hold in the slice, holds in the slice}.
local first = tonumber(ARGV[3])
local tokens = redis.call('ZRANGE', KEYS[1], first, first + tonumber(ARGV[4]) - 1)
local n = 0
for _, token in ipairs(tokens) do
  local labels = redis.call('HGET', ARGV[2] .. token, 's')
  if labels then
    for label in string.gmatch(labels, '[^,]+') do
      if redis.call('GET', ARGV[1] .. label) == token then n = n + 1 end
    end
  end
end
return {n, #tokens}
