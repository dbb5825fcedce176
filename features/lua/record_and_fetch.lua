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
local WINDOWS = {{1, 10}, {2, 12}, {3, 24}, {4, 7}, {4, 30}}
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
  local k = 1
  while k <= #flat and flat[k] < bound do k = k + 4 end
  if k == 1 then return flat end
  local out = {}
  for j = k, #flat do out[#out + 1] = flat[j] end
  return out
end

local function add_flat(flat, i, units, q)
  local j = #flat - 3
  while j >= 1 and flat[j] > i do j = j - 4 end
  if j >= 1 and flat[j] == i then
    flat[j + 1] = flat[j + 1] + 1
    flat[j + 2] = flat[j + 2] + units
    flat[j + 3] = flat[j + 3] + q
  else
    for n, v in ipairs({i, 1, units, q}) do table.insert(flat, j + 3 + n, v) end
  end
end

-- Sum of the buckets lo..hi of a flat array, added in ascending bucket order like the
-- offline twin; found from the end (an in-order event's window is the last buckets).
local function window(flat, lo, hi)
  local j = #flat - 3
  while j >= 1 and flat[j] > hi do j = j - 4 end
  local last = j
  while j >= 1 and flat[j] >= lo do j = j - 4 end
  local n, u, q = 0, 0, 0
  for m = j + 4, last, 4 do
    n = n + flat[m + 1]
    u = u + flat[m + 2]
    q = q + flat[m + 3]
  end
  return n, u, q
end

-- Distinct values over the days d-1..d and d-7..d in one pass: min(|union|, CAP) each.
local function distinct2(map, d)
  local seen, n, n1 = {}, 0, nil
  for i = d, d - 7, -1 do
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
  return n1, n
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

-- One entity: append its 10 window fields to `parts`, fill `info`, record the event.
local function entity(kind, id, e, parts, info)
  if id == '' then
    for _ = 1, 10 do parts[#parts + 1] = '' end
    return
  end
  local t = e.t
  local key = prefix .. 'f:' .. kind .. ':' .. id
  local st = load_state(key)
  local idx = {floor(t / 60000), floor(t / 300000), floor(t / 3600000), floor(t / DAY)}
  local np = #parts
  for w = 1, 5 do
    local r, k = WINDOWS[w][1], WINDOWS[w][2]
    local n, u, q = window(st[2 + r], idx[r] - k, idx[r])
    parts[np + 1] = fmt(n)
    parts[np + 2] = fmt(u)
    np = np + 2
    if w == 5 and kind == 'card' then info.card_q = fmt(q) end
  end
  local old_hi = st[1]
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
    info.card_merchants = {distinct2(st[7], day)}
    info.card_countries = {distinct2(st[8], day)}
  elseif kind ~= 'customer' and kind ~= 'merchant' then
    info[kind .. '_cards'] = {distinct2(st[7], day)}
  end
  if not record then return end
  touch(key)

  local hi = t
  if old_hi and old_hi > t then hi = old_hi end
  st[1] = hi
  if not st[2] or t < st[2] then st[2] = t end
  local h = hi - grace
  local day_advanced = false
  for r = 1, 4 do
    local bound = math.floor(h / RES[r]) - KMAX[r]
    if old_hi and bound > math.floor((old_hi - grace) / RES[r]) - KMAX[r] then
      st[2 + r] = trim_flat(st[2 + r], bound)
      if r == 4 then day_advanced = true end
    end
    if idx[r] >= bound then
      local q = 0
      if kind == 'card' and r == 4 then q = e.cents * e.cents end
      add_flat(st[2 + r], idx[r], e.units, q)
    end
  end
  local dbound = math.floor(h / DAY) - 7
  if old_hi and dbound > math.floor((old_hi - grace) / DAY) - 7 then
    trim(st[7], dbound)
    trim(st[8], dbound)
  end
  if day >= dbound then
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
for _, key in ipairs(dirty_keys) do
  redis.call('SET', key, cmsgpack.pack(states[key]), 'PX', KEEP)
end
if late_events > 0 then redis.call('INCRBY', prefix .. 'f:meta:late_events', late_events) end
return out
