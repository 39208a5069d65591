-- Holds every seat or none, and publishes one RESERVED change per seat.
-- Returns {'ok', deadline, the event's version, seats the user now holds in the event},
-- {'taken', labels…}, {'limit', held},
-- {'client_limit', taken}, {'cooling', labels…} or {'not_loaded'}.
-- KEYS[1] sold-seats-loaded marker, KEYS[2] reservation hash, KEYS[3] the user's held-seats zset,
-- KEYS[4] change version counter, KEYS[5] hold deadlines zset, KEYS[6] the client's taken-seats
-- zset, KEYS[7] the user's and KEYS[8] the client's cooling seats zsets, KEYS[9..] seat keys.
-- ARGV[1] hold token, ARGV[2] ttl ms, ARGV[3] user id, ARGV[4] max seats per user,
-- ARGV[5] retention ms, ARGV[6] feed channel, ARGV[7] event id, ARGV[8] max seats per client
-- (0: no client limit), ARGV[9] client window ms, ARGV[10] cool-down ms (0: none), ARGV[11] the
-- client's address ('' unknown), ARGV[12..] seat labels (key order).
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_loaded'} end
local labels, seat_keys = {}, {}
for i = 9, #KEYS do
  seat_keys[#seat_keys + 1] = KEYS[i]
  labels[#labels + 1] = ARGV[i + 3]
end
return hold_seats(KEYS, ARGV, labels, seat_keys)
