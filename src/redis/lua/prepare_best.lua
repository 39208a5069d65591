-- Builds what best available reads: the row index (label prefix -> layout index of the row's
-- seat 1) and the taken-seats bitmap, from the seat keys as they are now. Every change after it
-- keeps the bitmap (`note_taken` in the prelude). Does nothing when the index exists.
-- KEYS[1] sold-seats-loaded marker, KEYS[2] row index hash, KEYS[3] taken-seats bitmap.
-- ARGV[1] seat key prefix, then per row: label prefix, index of its seat 1, seat count.
-- Returns 'ok' or 'not_loaded'.
if redis.call('EXISTS', KEYS[1]) == 0 then return 'not_loaded' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'ok' end
redis.call('DEL', KEYS[3])
local fields = {}
for i = 2, #ARGV, 3 do
  local prefix, first, count = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local keys = {}
  for k = 1, count do keys[k] = ARGV[1] .. prefix .. k end
  local values = redis.call('MGET', unpack(keys))
  for k = 1, count do
    if values[k] then redis.call('SETBIT', KEYS[3], first + k - 1, 1) end
  end
  fields[#fields + 1] = prefix
  fields[#fields + 1] = ARGV[i + 1]
  if #fields >= 1000 then
    redis.call('HSET', KEYS[2], unpack(fields))
    fields = {}
  end
end
if #fields > 0 then redis.call('HSET', KEYS[2], unpack(fields)) end
return 'ok'
