-- The live holds of one user in one event, by the prelude's live_hold (the check every
-- operation on a hold makes), found through the user's held-seats zset. Read-only.
-- KEYS[1] the user's held-seats zset. ARGV[1] seat key prefix, ARGV[2] reservation key prefix,
-- ARGV[3] user id.
-- Returns {token, deadline, created, labels, token, …}, four entries per live hold.
local seen, found = {}, {}
for _, label in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local token = redis.call('GET', ARGV[1] .. label)
  if token and token ~= 'sold' and not seen[token] then
    seen[token] = true
    local refusal, h = live_hold(ARGV[2] .. token, token, ARGV[3], ARGV[1])
    if not refusal then
      found[#found + 1] = token
      found[#found + 1] = h[3]
      found[#found + 1] = h[4]
      found[#found + 1] = h[5]
    end
  end
end
return found
