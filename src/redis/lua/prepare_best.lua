-- Builds what best available reads (see `set_taken` in the prelude): the row index, the
-- taken-seats bitmap and each row's free count, from the seat keys as they are now. Every change
-- after it keeps them (`note_taken`). Does nothing when the index exists.
-- KEYS[1] sold-seats-loaded marker, KEYS[2] row index hash, KEYS[3] taken-seats bitmap,
-- KEYS[4] free seats per row hash, KEYS[5] ranks set at creation (see reserve_best.lua).
-- ARGV[1] seat key prefix, then per row: label prefix, index of its seat 1, seat count, and its
-- seats' ranks above its base as 4 bytes each ('' for the default ranks).
-- Returns 'ok' or 'not_loaded'.
if redis.call('EXISTS', KEYS[1]) == 0 then return 'not_loaded' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'ok' end
redis.call('DEL', KEYS[3], KEYS[4], KEYS[5])
local fields, counts = {}, {}
for i = 2, #ARGV, 4 do
  local prefix, first, count = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local keys = {}
  for k = 1, count do keys[k] = ARGV[1] .. prefix .. k end
  local values = redis.call('MGET', unpack(keys))
  if ARGV[i + 3] ~= '' then redis.call('SETRANGE', KEYS[5], first * 4, ARGV[i + 3]) end
  local free = count
  for k = 1, count do
    if values[k] then
      redis.call('SETBIT', KEYS[3], first + k - 1, 1)
      free = free - 1
    end
  end
  fields[#fields + 1] = prefix
  fields[#fields + 1] = ARGV[i + 1]
  counts[#counts + 1] = prefix
  counts[#counts + 1] = free
  if #fields >= 1000 then
    redis.call('HSET', KEYS[2], unpack(fields))
    redis.call('HSET', KEYS[4], unpack(counts))
    fields, counts = {}, {}
  end
end
if #fields > 0 then
  redis.call('HSET', KEYS[2], unpack(fields))
  redis.call('HSET', KEYS[4], unpack(counts))
end
return 'ok'
