-- Record a micro-batch of events and return each event's raw aggregates (after common.lua).
-- Layout and semantics: docs/redis-keys.md, "Online features". One call per batch, atomic.
--
-- ARGV[1] prefix, ARGV[2] dedupe TTL s, ARGV[3] grace ms, ARGV[4] mode ("r" record, "p" peek:
-- compute without writing), then 11 values per event: event_id, occurred_ms, amount_units,
-- amount_cents, card_id, customer_id, merchant_id, device_id, ip, email, merchant_country
-- ("" = absent).
local record = ARGV[4] == 'r'
local RES = {60000, 300000, 3600000, DAY}
local KMAX = {10, 12, 24, 30}
local CAP = 32
local ENTITIES = {'card', 'customer', 'merchant', 'device', 'ip', 'email'}

local floor = math.floor

local since_key = prefix .. 'f:meta:history_since'
local since = redis.call('GET', since_key)
local late_events = 0
local out = {}

-- Entity states are decoded once per batch (on first use), updated in this table by every
-- event of the batch, and the touched ones encoded and written back once at the end: many
-- events of a batch share a merchant, IP or device. The steps applied to a state are the
-- same as one event at a time, so the results are identical.
local states, dirty, dirty_keys = {}, {}, {}

local function load_state(key)
  local st = states[key]
  if st == nil then
    local blob = redis.call('GET', key)
    if blob then
      st = cmsgpack.unpack(blob)
    else
      st = {false, false, {}, {}, {}, {}, {}, {}, {}, false}
    end
    states[key] = st
  end
  return st
end

local function touch(key)
  if not dirty[key] then
    dirty[key] = true
    dirty_keys[#dirty_keys + 1] = key
  end
end

-- Fraud sets are read once per batch too (parsed: reported ms, score), and read again
-- after this script changes them (pending labels applied, trims).
local fraud_rows = {}

local function trim(map, bound)
  for i in pairs(map) do
    if i < bound then map[i] = nil end
  end
end

-- Buckets are flat arrays sorted by index, 4 numbers each: index, count, units, cents²
-- (cents² only on the card's day buckets). Flat arrays decode several times faster.
local function trim_flat(flat, bound)
  local n, k = #flat, 1
  while k <= n and flat[k] < bound do k = k + 4 end
  if k == 1 then return flat end
  -- In place: no new table (less garbage while the collector is paused).
  local m = k - 1
  for j = k, n do flat[j - m] = flat[j] end
  for j = n - m + 1, n do flat[j] = nil end
  return flat
end

local function add_flat(flat, i, units, q)
  local j = #flat - 3
  while j >= 1 and flat[j] > i do j = j - 4 end
  if j >= 1 and flat[j] == i then
    flat[j + 1] = flat[j + 1] + 1
    flat[j + 2] = flat[j + 2] + units
    flat[j + 3] = flat[j + 3] + q
  elseif j == #flat - 3 then
    local m = #flat
    flat[m + 1], flat[m + 2], flat[m + 3], flat[m + 4] = i, 1, units, q
  else
    table.insert(flat, j + 4, q)
    table.insert(flat, j + 4, units)
    table.insert(flat, j + 4, 1)
    table.insert(flat, j + 4, i)
  end
end

-- Within a batch, buckets (and distinct days) below the entity's bound (docs: kept while
-- i >= index(hi - grace) - k_max) are only skipped, and removed once when the state is
-- written back: the same result as trimming at every event.
local TWO53 = 2 ^ 53

local function window_asc(flat, lo, hi)
  local n, u, q = 0, 0, 0
  for j = 1, #flat, 4 do
    local i = flat[j]
    if i >= lo and i <= hi then
      n = n + flat[j + 1]
      u = u + flat[j + 2]
      q = q + flat[j + 3]
    end
  end
  return n, u, q
end

-- Sums of the buckets lo..hi (and lo2..hi for a second, shorter window) of a flat array,
-- scanned from the end (an in-order event's window is the last buckets). Amounts are
-- positive, so while a sum stays below 2^53 every partial sum is exact and the order does
-- not matter; beyond that the buckets are added in ascending order like the offline twin.
local function window(flat, lo, hi, lo2)
  local n, u, q, n2, u2, q2 = 0, 0, 0, 0, 0, 0
  local j = #flat - 3
  while j >= 1 and flat[j] > hi do j = j - 4 end
  while j >= 1 do
    local i = flat[j]
    if i < lo then break end
    n = n + flat[j + 1]
    u = u + flat[j + 2]
    q = q + flat[j + 3]
    if lo2 and i >= lo2 then
      n2 = n2 + flat[j + 1]
      u2 = u2 + flat[j + 2]
      q2 = q2 + flat[j + 3]
    end
    j = j - 4
  end
  if u >= TWO53 or q >= TWO53 then
    n, u, q = window_asc(flat, lo, hi)
    if lo2 then n2, u2, q2 = window_asc(flat, lo2, hi) end
  end
  return n, u, q, n2, u2, q2
end

-- Distinct values over the days d-1..d and d-7..d (none below `low`) in one pass:
-- min(|union|, CAP) each.
local function distinct2(map, d, low)
  local seen, n, n1 = {}, 0, nil
  local stop = d - 7
  if low > stop then stop = low end
  for i = d, stop, -1 do
    if i == d - 2 then n1 = n end
    local list = map[i]
    if list then
      for _, v in ipairs(list) do
        if not seen[v] then
          seen[v] = true
          n = n + 1
          if n >= CAP then return n1 or CAP, CAP end
        end
      end
    end
  end
  return n1 or n, n
end

local function add_distinct(map, d, v)
  local list = map[d]
  if not list then
    map[d] = {v}
    return
  end
  if #list >= CAP then return end
  for _, x in ipairs(list) do
    if x == v then return end
  end
  list[#list + 1] = v
end

local IDX = {0, 0, 0, 0} -- the event's bucket index per resolution (entity() only)

-- One entity: append its 10 window fields to `parts`, fill `info`, record the event.
local function entity(kind, id, e, parts, info)
  if id == '' then
    for _ = 1, 10 do parts[#parts + 1] = '' end
    return
  end
  local t = e.t
  local key = prefix .. 'f:' .. kind .. ':' .. id
  local st = load_state(key)
  local idx = IDX
  idx[1], idx[2], idx[3], idx[4] = floor(t / 60000), floor(t / 300000), floor(t / 3600000), floor(t / DAY)
  local old_hi = st[1]
  local low = -math.huge
  local np = #parts
  for r = 1, 3 do
    local k = KMAX[r]
    if old_hi then low = floor((old_hi - grace) / RES[r]) - k end
    local lo = idx[r] - k
    if low > lo then lo = low end
    local n, u = window(st[2 + r], lo, idx[r])
    parts[np + 1] = fmt(n)
    parts[np + 2] = fmt(u)
    np = np + 2
  end
  if old_hi then low = floor((old_hi - grace) / DAY) - 30 end
  local lo30, lo7 = idx[4] - 30, idx[4] - 7
  if low > lo30 then lo30 = low end
  if low > lo7 then lo7 = low end
  local n30, u30, q30, n7, u7 = window(st[6], lo30, idx[4], lo7)
  parts[np + 1], parts[np + 2], parts[np + 3], parts[np + 4] = fmt(n7), fmt(u7), fmt(n30), fmt(u30)
  if kind == 'card' then info.card_q = fmt(q30) end
  if old_hi and t < old_hi - grace then info.late = true end
  if st[2] and st[2] < t then info[kind .. '_first'] = fmt(st[2]) end
  local day = idx[4]
  if kind == 'card' then
    local rec, prev = st[9], nil
    for j = #rec, 1, -1 do
      if rec[j] < t then
        prev = rec[j]
        break
      end
    end
    if not prev and st[10] and st[10] < t then prev = st[10] end
    if prev then info.prev = fmt(prev) end
    local dlow = old_hi and floor((old_hi - grace) / DAY) - 7 or -math.huge
    info.card_merchants = {distinct2(st[7], day, dlow)}
    info.card_countries = {distinct2(st[8], day, dlow)}
  elseif kind ~= 'customer' and kind ~= 'merchant' then
    local dlow = old_hi and floor((old_hi - grace) / DAY) - 7 or -math.huge
    info[kind .. '_cards'] = {distinct2(st[7], day, dlow)}
  end
  if not record then return end
  touch(key)

  local hi = t
  if old_hi and old_hi > t then hi = old_hi end
  st[1] = hi
  if not st[2] or t < st[2] then st[2] = t end
  local h = hi - grace
  for r = 1, 4 do
    -- Buckets below the bound are left for write_back() to remove.
    if idx[r] >= floor(h / RES[r]) - KMAX[r] then
      local q = 0
      if kind == 'card' and r == 4 then q = e.cents * e.cents end
      add_flat(st[2 + r], idx[r], e.units, q)
    end
  end
  local day_advanced = old_hi and floor(h / DAY) > floor((old_hi - grace) / DAY)
  if day >= floor(h / DAY) - 7 then
    if kind == 'card' then
      add_distinct(st[7], day, e.merchant)
      if e.country ~= '' then add_distinct(st[8], day, e.country) end
    elseif kind ~= 'customer' and kind ~= 'merchant' then
      add_distinct(st[7], day, e.card)
    end
  end
  if kind == 'card' then
    -- Times within grace of hi one by one, older ones folded into the latest of them.
    local rec = st[9]
    if t >= h then
      local j = #rec
      while j > 0 and rec[j] > t do j = j - 1 end
      if j == 0 or rec[j] ~= t then table.insert(rec, j + 1, t) end
    elseif not st[10] or t > st[10] then
      st[10] = t
    end
    while #rec > 0 and rec[1] < h do
      if not st[10] or rec[1] > st[10] then st[10] = rec[1] end
      table.remove(rec, 1)
    end
  end
  if day_advanced and (kind == 'card' or kind == 'merchant') then
    local bound = math.floor(h / DAY) - KMAX[4]
    local fkey = prefix .. 'f:fraud:' .. kind .. ':' .. id
    redis.call('ZREMRANGEBYSCORE', fkey, '-inf', '(' .. fmt(bound * DAY))
    fraud_rows[fkey] = nil
  end
end

local function fraud_counts(kind, id, t)
  local key = prefix .. 'f:fraud:' .. kind .. ':' .. id
  local rows = fraud_rows[key]
  if not rows then
    rows = {}
    local raw = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
    for j = 1, #raw, 2 do
      rows[j] = tonumber(string.match(raw[j], '^(%-?%d+)|'))
      rows[j + 1] = tonumber(raw[j + 1])
    end
    fraud_rows[key] = rows
  end
  if #rows == 0 then return 0, 0 end
  local d = floor(t / DAY)
  local lo, lo7, hi = (d - 30) * DAY, (d - 7) * DAY, (d + 1) * DAY
  local n7, n30 = 0, 0
  for j = 1, #rows, 2 do
    local s = rows[j + 1]
    if s >= lo and s < hi and rows[j] <= t then
      n30 = n30 + 1
      if s >= lo7 then n7 = n7 + 1 end
    end
  end
  return n7, n30
end

local function pair(x)
  if x then return fmt(x[1]), fmt(x[2]) end
  return '', ''
end

-- The decoded states stay alive for the whole batch, so every garbage-collector cycle
-- during the batch would traverse all of them again: the collector is paused while the
-- batch runs and resumed at the end (also when the batch fails). The batch's garbage is
-- bounded by the batch (docs/redis-keys.md, "Memory").
local function run()
  -- Entity states are written at the end of the batch: check the arguments before
  -- anything is written, so a malformed batch fails without a partial write.
  if (#ARGV - 4) % 11 ~= 0 then error('record_and_fetch: 11 values per event expected', 0) end
  for i = 5, #ARGV, 11 do
    if not (tonumber(ARGV[i + 1]) and tonumber(ARGV[i + 2]) and tonumber(ARGV[i + 3])) then
      error('record_and_fetch: bad numbers for event ' .. ARGV[i], 0)
    end
  end
  -- Pending labels of the batch's events, in one read (only this batch's first copies of
  -- events delete them; label batches are separate calls).
  local pending = {}
  if record then
    local pkeys = {}
    for i = 5, #ARGV, 11 do pkeys[#pkeys + 1] = prefix .. 'f:pending:' .. ARGV[i] end
    for c = 1, #pkeys, 500 do
      local vals = redis.call('MGET', unpack(pkeys, c, math.min(c + 499, #pkeys)))
      for j = 1, #vals do
        if vals[j] then pending[pkeys[c + j - 1]] = vals[j] end
      end
    end
  end

  for i = 5, #ARGV, 11 do
    local event_id = ARGV[i]
    local event_key = prefix .. 'f:event:' .. event_id
    local stored = record and redis.call('HGET', event_key, 'a')
    if stored then
      out[#out + 1] = stored
    else
      local e = {
        t = tonumber(ARGV[i + 1]), units = tonumber(ARGV[i + 2]), cents = tonumber(ARGV[i + 3]),
        card = ARGV[i + 4], merchant = ARGV[i + 6], country = ARGV[i + 10],
      }
      if record and not since then
        since = ARGV[i + 1]
        redis.call('SET', since_key, since)
      end
      local parts, info = {}, {}
      for j, kind in ipairs(ENTITIES) do entity(kind, ARGV[i + 3 + j], e, parts, info) end
      local c7, c30 = fraud_counts('card', e.card, e.t)
      local m7, m30 = fraud_counts('merchant', e.merchant, e.t)
      local a, b = pair(info.card_merchants)
      local c, d = pair(info.card_countries)
      local f, g = pair(info.device_cards)
      local h, k = pair(info.ip_cards)
      local l, m = pair(info.email_cards)
      for _, v in ipairs({
        info.card_q or '', info.prev or '', info.card_first or '', info.device_first or '',
        info.email_first or '', a, b, c, d, f, g, h, k, l, m,
        fmt(c7), fmt(c30), fmt(m7), fmt(m30), since or '', info.late and '1' or '0',
      }) do
        parts[#parts + 1] = v
      end
      local result = table.concat(parts, ' ')
      if record then
        if info.late then late_events = late_events + 1 end
        redis.call('HSET', event_key, 'a', result, 'c', e.card, 'm', e.merchant, 't', ARGV[i + 1])
        redis.call('EXPIRE', event_key, dedupe_ttl)
        local pending_key = prefix .. 'f:pending:' .. event_id
        local lab = pending[pending_key]
        if lab then
          pending[pending_key] = nil
          apply_label(event_id, event_key, e.card, e.merchant, e.t, nil, lab)
          fraud_rows[prefix .. 'f:fraud:card:' .. e.card] = nil
          fraud_rows[prefix .. 'f:fraud:merchant:' .. e.merchant] = nil
          redis.call('DEL', pending_key)
        end
      end
      out[#out + 1] = result
    end
  end
  -- Each touched state once, without the buckets and days below its bounds.
  for _, key in ipairs(dirty_keys) do
    local st = states[key]
    local h = st[1] - grace
    for r = 1, 4 do st[2 + r] = trim_flat(st[2 + r], floor(h / RES[r]) - KMAX[r]) end
    local dbound = floor(h / DAY) - 7
    trim(st[7], dbound)
    trim(st[8], dbound)
    redis.call('SET', key, cmsgpack.pack(st), 'PX', KEEP)
  end
  if late_events > 0 then redis.call('INCRBY', prefix .. 'f:meta:late_events', late_events) end
  return out
end

collectgarbage('stop')
local ok, result = pcall(run)
collectgarbage('restart')
if not ok then error(result, 0) end
return result
