-- Every seat's value and the version of the last published change, read atomically.
-- KEYS[1] sold-seats-loaded marker, KEYS[2] change version counter, KEYS[3..] seat keys.
-- Returns {loaded '1'|'0', version, value or nil per seat}.
local reply = {tostring(redis.call('EXISTS', KEYS[1])), redis.call('GET', KEYS[2]) or '0'}
for i = 3, #KEYS do reply[#reply + 1] = redis.call('GET', KEYS[i]) end
return reply
