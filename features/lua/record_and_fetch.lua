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

local since_key = prefix .. 'f:meta:history_since'
local since = redis.call('GET', since_key)
local late_events = 0
local out = {}

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

local function distinct(map, d, k)
  local seen, n = {}, 0
  for i = d - k, d do
    local list = map[i]
    if list then
      for _, v in ipairs(list) do
        if not seen[v] then
          seen[v] = true
          n = n + 1
          if n >= CAP then return CAP end
        end
      end
    end
  end
  return n
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
  local blob = redis.call('GET', key)
  local st
  if blob then
    st = cmsgpack.unpack(blob)
  else
    st = {false, false, {}, {}, {}, {}, {}, {}, {}, false}
  end
  local idx = {}
  for r = 1, 4 do idx[r] = math.floor(t / RES[r]) end
  for _, w in ipairs(WINDOWS) do
    local flat, lo, hi = st[2 + w[1]], idx[w[1]] - w[2], idx[w[1]]
    local n, u, q = 0, 0, 0
    for j = 1, #flat, 4 do
      local i = flat[j]
      if i >= lo and i <= hi then
        n = n + flat[j + 1]
        u = u + flat[j + 2]
        q = q + flat[j + 3]
      end
    end
    parts[#parts + 1] = fmt(n)
    parts[#parts + 1] = fmt(u)
    if kind == 'card' and w[2] == 30 then info.card_q = fmt(q) end
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
    info.card_merchants = {distinct(st[7], day, 1), distinct(st[7], day, 7)}
    info.card_countries = {distinct(st[8], day, 1), distinct(st[8], day, 7)}
  elseif kind ~= 'customer' and kind ~= 'merchant' then
    info[kind .. '_cards'] = {distinct(st[7], day, 1), distinct(st[7], day, 7)}
  end
  if not record then return end

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
    redis.call('ZREMRANGEBYSCORE', prefix .. 'f:fraud:' .. kind .. ':' .. id, '-inf', '(' .. fmt(bound * DAY))
  end
  redis.call('SET', key, cmsgpack.pack(st), 'PX', KEEP)
end

local function fraud_counts(kind, id, t)
  local d = math.floor(t / DAY)
  local rows = redis.call('ZRANGEBYSCORE', prefix .. 'f:fraud:' .. kind .. ':' .. id,
    fmt((d - 30) * DAY), '(' .. fmt((d + 1) * DAY), 'WITHSCORES')
  local n7, n30 = 0, 0
  for j = 1, #rows, 2 do
    if tonumber(string.match(rows[j], '^(%-?%d+)|')) <= t then
      n30 = n30 + 1
      if tonumber(rows[j + 1]) >= (d - 7) * DAY then n7 = n7 + 1 end
    end
  end
  return n7, n30
end

local function pair(x)
  if x then return fmt(x[1]), fmt(x[2]) end
  return '', ''
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
      local pending = redis.call('GET', pending_key)
      if pending then
        apply_label(event_id, event_key, e.card, e.merchant, e.t, nil, pending)
        redis.call('DEL', pending_key)
      end
    end
    out[#out + 1] = result
  end
end
if late_events > 0 then redis.call('INCRBY', prefix .. 'f:meta:late_events', late_events) end
return out
