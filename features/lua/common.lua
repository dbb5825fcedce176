-- Shared by record_and_fetch.lua and record_labels.lua (prepended by features/online_store.py).
-- Layout and semantics: docs/redis-keys.md, "Online features".
local prefix = ARGV[1]
local dedupe_ttl = tonumber(ARGV[2])
local grace = tonumber(ARGV[3])
local DAY = 86400000
local KEEP = 31 * DAY + grace

local sformat = string.format
local fmt_memo = {}

-- A number as the raw strings write it ('%.0f'), memoised for the whole call: the same
-- counts, sums and times come back thousands of times per batch. Zero is special-cased
-- (a table key cannot tell 0 from -0).
local function fmt(x)
  if x == 0 then
    if 1 / x > 0 then return '0' end
    return '-0'
  end
  local s = fmt_memo[x]
  if not s then
    s = sformat('%.0f', x)
    fmt_memo[x] = s
  end
  return s
end

-- A label "kind reported_ms" beats another when it was reported later (fraud wins ties).
local function newer(new, old)
  if not old then return true end
  local nk, nr = string.match(new, '^(%a+) (%-?%d+)$')
  local ok, orr = string.match(old, '^(%a+) (%-?%d+)$')
  nr, orr = tonumber(nr), tonumber(orr)
  if nr ~= orr then return nr > orr end
  return nk == 'fraud' and ok ~= 'fraud'
end

-- Make `label` the event's current label if it is newer; keep the fraud sets in step.
local function apply_label(event_id, event_key, card, merchant, t, old, label)
  if not newer(label, old) then return 0 end
  local keys = {prefix .. 'f:fraud:card:' .. card, prefix .. 'f:fraud:merchant:' .. merchant}
  if old then
    local kind, rep = string.match(old, '^(%a+) (%-?%d+)$')
    if kind == 'fraud' then
      for _, k in ipairs(keys) do redis.call('ZREM', k, rep .. '|' .. event_id) end
    end
  end
  local kind, rep = string.match(label, '^(%a+) (%-?%d+)$')
  if kind == 'fraud' then
    for _, k in ipairs(keys) do
      redis.call('ZADD', k, t, rep .. '|' .. event_id)
      redis.call('PEXPIRE', k, KEEP)
    end
  end
  redis.call('HSET', event_key, 'l', label)
  return 1
end
