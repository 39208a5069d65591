-- Frees a hold's seats now; compare-and-delete, so a seat already taken by the next holder stays
-- theirs. A hold past its deadline is expired instead (EXPIRED, unless the sweeper already
-- reported it) and answered 'expired'. Returns {code} or {code, the event's version}.
-- KEYS[1] reservation hash, KEYS[2] the user's held-seats zset, KEYS[3] change version counter,
-- KEYS[4] hold deadlines zset.
-- ARGV[1] hold token, ARGV[2] user id, ARGV[3] seat key prefix, ARGV[4] retention ms,
-- ARGV[5] feed channel, ARGV[6] event id, ARGV[7] cool-down key prefix.
local h = redis.call('HMGET', KEYS[1], 'u', 'p', 'd', 's', 'cd', 'ip')
if not h[1] then return {'unknown'} end
if h[1] ~= ARGV[2] then return {'not_owner'} end
if h[2] == 'sold' then return {'sold'} end
if h[2] == 'released' then return {'released'} end
local labels, mine = labels_of(h[4]), {}
for _, label in ipairs(labels) do
  if redis.call('GET', ARGV[3] .. label) == ARGV[1] then mine[#mine + 1] = label end
end
if h[2] == 'purchasing' and #mine > 0 then return {'purchasing'} end
local now = now_ms()
local at = ms(now)
local answer = 'ok'
local cool = {prefix = ARGV[7], user = ARGV[2], length = h[5], client = h[6], now = now}
if tonumber(h[3]) <= now then
  answer = 'expired'
  if redis.call('ZREM', KEYS[4], ARGV[1]) == 1 then
    expire_hold(ARGV[1], labels, ARGV[3], KEYS[3], ARGV[5], ARGV[6], at, cool)
  end
else
  for _, label in ipairs(mine) do
    redis.call('DEL', ARGV[3] .. label)
    publish(KEYS[3], ARGV[5], ARGV[6], label, 'L', at)
  end
  cool_down(cool, mine)
end
local keys = {hold = KEYS[1], user = KEYS[2], deadlines = KEYS[4]}
end_hold(keys, ARGV[1], labels, 'released', ARGV[4])
return {answer, redis.call('GET', KEYS[3]) or '0'}
