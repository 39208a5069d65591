-- Every seat's status and the version of the last published change, read atomically.
-- KEYS[1] sold-seats-loaded marker, KEYS[2] change version counter.
-- ARGV[1] seat key prefix, ARGV[2] the seat labels in layout order, joined by ','.
-- Returns {loaded '1'|'0', version, one character per seat: '0' free, '1' held, '2' sold}: a
-- few bytes per seat each way, however many seats the event has.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'0', '0', ''} end
local out, n = {}, 0
for label in string.gmatch(ARGV[2], '[^,]+') do
  local value = redis.call('GET', ARGV[1] .. label)
  n = n + 1
  if not value then out[n] = '0' elseif value == 'sold' then out[n] = '2' else out[n] = '1' end
end
return {'1', redis.call('GET', KEYS[2]) or '0', table.concat(out)}
