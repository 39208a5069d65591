-- One hold as its owner may see it, by the prelude's live_hold: the same checks, in the same
-- order, as every operation on a hold. Read-only.
-- KEYS[1] reservation hash. ARGV[1] hold token, ARGV[2] user id, ARGV[3] seat key prefix.
-- Returns {'ok', deadline, created, labels} or {refusal}.
local refusal, h = live_hold(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
if refusal then return {refusal} end
return {'ok', h[3], h[4], h[5]}
