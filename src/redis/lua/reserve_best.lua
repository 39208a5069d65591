-- Chooses the best free seats of a plan and holds them, in one step: domain/best.rs's choice,
-- repeated here (the contract suite compares the two), over the taken-seats bitmap.
-- KEYS[1..8] as reserve.lua's, KEYS[9] the row index hash, KEYS[10] the taken-seats bitmap,
-- KEYS[11] the free seats per row hash (a row with fewer than n is not scanned), KEYS[12] the
-- ranks set at creation (4 bytes, big-endian, per seat by layout index: the rank above the row's
-- base).
-- ARGV[1..11] as reserve.lua's, ARGV[12] how many seats, ARGV[13] the seat key prefix, ARGV[14]
-- 'best' (domain/best.rs's `choose`) or 'any' (`choose_any`: the first free places of a
-- general-admission area), ARGV[15] '1' when the rows are the whole plan, '0' when they are its
-- first rows only, then per plan row (in plan order): label prefix, layout index of its
-- seat 1, seat count, rank base, the least sum of n of its seats' ranks above the base, and '1'
-- when its ranks were set at creation ('0': the default, the distance from the middle).
-- Returns {'chosen', labels joined by ',', reserve.lua's reply…}, {'not_enough'},
-- {'not_prepared'}, {'not_loaded'}, or {'more'} when the first rows did not settle the choice
-- (nothing was changed: call again with more rows).
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_loaded'} end
if redis.call('EXISTS', KEYS[9]) == 0 then return {'not_prepared'} end
local n = tonumber(ARGV[12])
local any = ARGV[14] == 'any'
-- Plan rows are read from ARGV as they are needed: most calls look at a few rows of many.
local complete = ARGV[15] == '1'
local rows = math.floor((#ARGV - 15) / 6)
local function field(r, k) return ARGV[15 + 6 * (r - 1) + k] end
-- Each seat's rank above its row's base: read for a row with ranks set at creation, else the
-- distance from the middle of the row.
local function offsets_of(r, first, seats)
  if field(r, 6) ~= '1' then return nil end
  local raw = redis.call('GETRANGE', KEYS[12], first * 4, (first + seats) * 4 - 1)
  local offsets = {}
  for k = 1, seats do
    local a, b, c, d = string.byte(raw, 4 * k - 3, 4 * k)
    offsets[k] = ((a or 0) * 256 + (b or 0)) * 65536 + (c or 0) * 256 + (d or 0)
  end
  return offsets
end

local function row(r)
  local first, seats = tonumber(field(r, 2)), tonumber(field(r, 3))
  return {prefix = field(r, 1), first = first, seats = seats, base = tonumber(field(r, 4)),
    offsets = offsets_of(r, first, seats)}
end

local free_counts = {}
for from = 1, rows, 1000 do
  local prefixes = {}
  for r = from, math.min(from + 999, rows) do prefixes[#prefixes + 1] = field(r, 1) end
  local counts = redis.call('HMGET', KEYS[11], unpack(prefixes))
  for j = 1, #prefixes do free_counts[from + j - 1] = tonumber(counts[j]) end
end

-- The scans below run per seat: locals and a table instead of globals and powers.
local floor, byte_at, abs = math.floor, string.byte, math.abs
local BIT = {128, 64, 32, 16, 8, 4, 2, 1}

local function spread(k, seats) return abs(2 * k - (seats + 1)) end

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
  local byte = byte_at(bits, floor(i / 8) + 1)
  if not byte then return true end
  return floor(byte / BIT[i % 8 + 1]) % 2 == 0
end

-- Eight taken seats from seat `k` of a row starting at `first` (of `seats`), at once.
local function full_byte(first, k, seats)
  local i = first + k - 1
  return i % 8 == 0 and k + 7 <= seats and byte_at(bits, i / 8 + 1) == 255
end

-- The first n free places in plan order, as {row, number} pairs; nil when fewer are free.
local function choose_any()
  local picked = {}
  for r = 1, rows do
    if (free_counts[r] or 1) > 0 then
      local this = row(r)
      local k = 1
      while k <= this.seats do
        if full_byte(this.first, k, this.seats) then
          k = k + 8
        else
          if free(this.first + k - 1) then
            picked[#picked + 1] = {this, k}
            if #picked == n then return picked end
          end
          k = k + 1
        end
      end
    end
  end
  if not complete then return 'more' end
  return nil
end

-- The best block of one row into `best` (see choose).
local function scan(r, best)
  local first, seats, base = tonumber(field(r, 2)), tonumber(field(r, 3)), tonumber(field(r, 4))
  local offsets = offsets_of(r, first, seats)
  local function offset(k)
    if offsets then return offsets[k] end
    return spread(k, seats)
  end
  local k = 1
  while k <= seats do
    if full_byte(first, k, seats) then
      k = k + 8
    elseif not free(first + k - 1) then
      k = k + 1
    else
      local a = k
      while k <= seats and free(first + k - 1) do k = k + 1 end
      local b = k - 1
      local run = {}
      for start = a, b + 1 - n do
        local e = start + n - 1
        local score = n * base
        for s = start, e do score = score + offset(s) end
        local t = tier(start - a, b - e)
        if not run[t] or score < run[t].score then run[t] = {score = score, r = r, start = start} end
      end
      local pick, orphaning = run[1] or run[2], 1
      if not pick then pick, orphaning = run[3], 2 end
      if pick and (not best[orphaning] or pick.score < best[orphaning].score) then
        best[orphaning] = pick
      end
    end
  end
end

-- {row, number} pairs, or nil when fewer than n seats are free.
local function choose()
  if any then return choose_any() end
  -- best[1]: the best block leaving no orphan; best[2]: the best one leaving one.
  local best, settled = {}, complete
  for r = 1, rows do
    local base = tonumber(field(r, 4))
    -- Rows come by base: once a block beats every block of this base, it beats the rest.
    if best[1] and n * base >= best[1].score then
      settled = true
      break
    end
    local seats = tonumber(field(r, 3))
    if (free_counts[r] or seats) >= n
      and not (best[1] and n * base + tonumber(field(r, 5)) >= best[1].score) then
      scan(r, best)
    end
  end
  -- Rows past these could still hold a better block, or the only one.
  if not settled then return 'more' end
  for t = 1, 2 do
    local block = best[t]
    if block then
      local this, picked = row(block.r), {}
      for k = block.start, block.start + n - 1 do picked[#picked + 1] = {this, k} end
      return picked
    end
  end
  local picked = {}
  for r = 1, rows do
    local this = row(r)
    local numbers = {}
    for k = 1, this.seats do numbers[k] = k end
    local function offset(k)
      if this.offsets then return this.offsets[k] end
      return spread(k, this.seats)
    end
    table.sort(numbers, function(x, y)
      local sx, sy = offset(x), offset(y)
      if sx ~= sy then return sx < sy end
      return x < y
    end)
    for _, k in ipairs(numbers) do
      if free(this.first + k - 1) then
        picked[#picked + 1] = {this, k}
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
  if picked == 'more' then return {'more'} end
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
