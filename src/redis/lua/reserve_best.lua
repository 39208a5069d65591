-- Chooses the best free seats of a plan and holds them, in one step: domain/best.rs's choice,
-- repeated here (the contract suite compares the two), over the taken-seats bitmap.
-- KEYS[1..8] as reserve.lua's, KEYS[9] the row index hash, KEYS[10] the taken-seats bitmap,
-- KEYS[11] the free seats per row hash (a row with fewer than n is not scanned).
-- ARGV[1..11] as reserve.lua's, ARGV[12] how many seats, ARGV[13] the seat key prefix, ARGV[14]
-- 'best' (domain/best.rs's `choose`) or 'any' (`choose_any`: the first free places of a
-- general-admission area), then per plan row (in plan order): label prefix, layout index of its
-- seat 1, seat count, rank base.
-- Returns {'chosen', labels joined by ',', reserve.lua's reply…}, {'not_enough'},
-- {'not_prepared'} or {'not_loaded'}.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_loaded'} end
if redis.call('EXISTS', KEYS[9]) == 0 then return {'not_prepared'} end
local n = tonumber(ARGV[12])
local plan = {}
local any = ARGV[14] == 'any'
for i = 15, #ARGV, 4 do
  plan[#plan + 1] = {prefix = ARGV[i], first = tonumber(ARGV[i + 1]),
    seats = tonumber(ARGV[i + 2]), base = tonumber(ARGV[i + 3])}
end

for from = 1, #plan, 1000 do
  local prefixes = {}
  for r = from, math.min(from + 999, #plan) do prefixes[#prefixes + 1] = plan[r].prefix end
  local counts = redis.call('HMGET', KEYS[11], unpack(prefixes))
  for j = 1, #prefixes do plan[from + j - 1].free = tonumber(counts[j]) end
end

local function spread(k, seats) return math.abs(2 * k - (seats + 1)) end

local function least_spread(count, seats)
  local sum = 0
  for j = 0, count - 1 do
    if seats % 2 == 1 then sum = sum + math.ceil(j / 2) * 2
    else sum = sum + math.floor(j / 2) * 2 + 1 end
  end
  return sum
end

local function tier(left, right)
  if left == 1 or right == 1 then return 3 end
  if left % n == 0 and right % n == 0 then return 1 end
  return 2
end

-- Seats the user or the client may not hold yet count as taken.
local cooling = {}
if tonumber(ARGV[10]) > 0 then
  local now = now_ms()
  for _, key in ipairs({KEYS[7], KEYS[8]}) do
    for _, label in ipairs(redis.call('ZRANGEBYSCORE', key, '(' .. ms(now), '+inf')) do
      local prefix, number = string.match(label, '^(.-)(%d+)$')
      local first = prefix and redis.call('HGET', KEYS[9], prefix)
      if first then cooling[tonumber(first) + tonumber(number) - 1] = true end
    end
  end
end

local bits
local function free(i)
  if cooling[i] then return false end
  local byte = string.byte(bits, math.floor(i / 8) + 1)
  if not byte then return true end
  return math.floor(byte / 2 ^ (7 - i % 8)) % 2 == 0
end

-- The first n free places in plan order, as {row, number} pairs; nil when fewer are free.
local function choose_any()
  local picked = {}
  for _, row in ipairs(plan) do
    if (row.free or row.seats) > 0 then
      local k = 1
      while k <= row.seats do
        local i = row.first + k - 1
        if i % 8 == 0 and k + 7 <= row.seats and string.byte(bits, i / 8 + 1) == 255 then
          k = k + 8
        else
          if free(i) then
            picked[#picked + 1] = {row, k}
            if #picked == n then return picked end
          end
          k = k + 1
        end
      end
    end
  end
  return nil
end

-- {row, number} pairs, or nil when fewer than n seats are free.
local function choose()
  if any then return choose_any() end
  -- best[1]: the best block leaving no orphan; best[2]: the best one leaving one.
  local best = {}
  for _, row in ipairs(plan) do
    local bound = n * row.base + least_spread(n, row.seats)
    if (row.free or row.seats) >= n and not (best[1] and bound >= best[1].score) then
      local k = 1
      while k <= row.seats do
        local i = row.first + k - 1
        if i % 8 == 0 and k + 7 <= row.seats and string.byte(bits, i / 8 + 1) == 255 then
          -- Eight taken seats at once: most of a busy section.
          k = k + 8
        elseif not free(i) then
          k = k + 1
        else
          local a = k
          while k <= row.seats and free(row.first + k - 1) do k = k + 1 end
          local b = k - 1
          local run = {}
          for start = a, b + 1 - n do
            local e = start + n - 1
            local score = n * row.base
            for s = start, e do score = score + spread(s, row.seats) end
            local t = tier(start - a, b - e)
            if not run[t] or score < run[t].score then
              run[t] = {score = score, row = row, start = start}
            end
          end
          local pick, orphaning = run[1] or run[2], 1
          if not pick then pick, orphaning = run[3], 2 end
          if pick and (not best[orphaning] or pick.score < best[orphaning].score) then
            best[orphaning] = pick
          end
        end
      end
    end
  end
  for t = 1, 2 do
    local block = best[t]
    if block then
      local picked = {}
      for k = block.start, block.start + n - 1 do picked[#picked + 1] = {block.row, k} end
      return picked
    end
  end
  local picked = {}
  for _, row in ipairs(plan) do
    local numbers = {}
    for k = 1, row.seats do numbers[k] = k end
    table.sort(numbers, function(x, y)
      local sx, sy = spread(x, row.seats), spread(y, row.seats)
      if sx ~= sy then return sx < sy end
      return x < y
    end)
    for _, k in ipairs(numbers) do
      if free(row.first + k - 1) then
        picked[#picked + 1] = {row, k}
        if #picked == n then return picked end
      end
    end
  end
  return nil
end

-- The bitmap only lags behind the seat keys (a lapsed hold's bit stays set until its expiry is
-- reported): a chosen seat whose key exists all the same is marked and the choice made again.
while true do
  bits = redis.call('GET', KEYS[10]) or ''
  local picked = choose()
  if not picked then return {'not_enough'} end
  local labels, seat_keys, stale = {}, {}, false
  for i, seat in ipairs(picked) do
    labels[i] = seat[1].prefix .. seat[2]
    seat_keys[i] = ARGV[13] .. labels[i]
    if redis.call('EXISTS', seat_keys[i]) == 1 then
      set_taken(string.sub(KEYS[10], 1, -2), seat[1].prefix, seat[1].first + seat[2] - 1, 1)
      stale = true
    end
  end
  if not stale then
    local reply = hold_seats(KEYS, ARGV, labels, seat_keys)
    table.insert(reply, 1, table.concat(labels, ','))
    table.insert(reply, 1, 'chosen')
    return reply
  end
end
