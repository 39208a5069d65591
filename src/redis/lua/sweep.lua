-- Expires the event's holds whose deadline has passed, on time, and publishes EXPIRED for each of
-- their seats that is free now. Redis's own expiry of a key is lazy or sampled and can be seconds
-- late; this makes it punctual. Idempotent, so any number of instances may run it.
-- KEYS[1] hold deadlines zset, KEYS[2] change version counter.
-- ARGV[1] seat key prefix, ARGV[2] reservation key prefix, ARGV[3] feed channel, ARGV[4] event id,
-- ARGV[5] most holds handled per call, ARGV[6] cool-down key prefix.
-- Returns {holds expired, next deadline ms or '-1', more due '1'|'0', lateness ms of each expired
-- hold joined by ','}.
local now = now_ms()
local at = ms(now)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[5]))
local late = {}
for i = 1, #due, 2 do
  local token = due[i]
  local h = redis.call('HMGET', ARGV[2] .. token, 's', 'u', 'cd', 'ip')
  redis.call('ZREM', KEYS[1], token)
  if h[1] then
    late[#late + 1] = ms(now - tonumber(due[i + 1]))
    local cool = {prefix = ARGV[6], user = h[2], length = h[3], client = h[4], now = now}
    expire_hold(token, labels_of(h[1]), ARGV[1], KEYS[2], ARGV[3], ARGV[4], at, cool)
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local more = '0'
if first[2] and tonumber(first[2]) <= now then more = '1' end
return {tostring(#late), first[2] or '-1', more, table.concat(late, ',')}
