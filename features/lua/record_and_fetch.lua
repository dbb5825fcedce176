-- Record a micro-batch of events and return each event's raw aggregates.
-- Layout and semantics: docs/redis-keys.md. One call per batch, atomic.
--
-- ARGV[1] prefix ("rw:"), ARGV[2] dedupe TTL s, ARGV[3] card keep ms,
-- ARGV[4] merchant keep ms, then 5 values per event:
-- event_id, occurred_ms, card_id, merchant_id, amount_units.
local prefix = ARGV[1]
local dedupe_ttl = tonumber(ARGV[2])
local card_keep = tonumber(ARGV[3])
local merchant_keep = tonumber(ARGV[4])
local HOUR, DAY, MONTH = 3600000, 86400000, 30 * 86400000

local since_key = prefix .. 'f:meta:history_since'
local since = redis.call('GET', since_key)
local out = {}

local function fmt(x)
  return string.format('%.0f', x)
end

for i = 5, #ARGV, 5 do
  local event_id = ARGV[i]
  local event_key = prefix .. 'f:event:' .. event_id
  local stored = redis.call('GET', event_key)
  if stored then
    out[#out + 1] = stored
  else
    local t = tonumber(ARGV[i + 1])
    local card_key = prefix .. 'f:card:' .. ARGV[i + 2]
    local merchant_key = prefix .. 'f:merchant:' .. ARGV[i + 3]
    if not since then
      since = ARGV[i + 1]
      redis.call('SET', since_key, since)
    end

    local c1h, s1h, c24h, s24h, c30d, s30d = 0, 0, 0, 0, 0, 0
    local previous = nil
    local rows = redis.call('ZRANGEBYSCORE', card_key, t - MONTH, '(' .. ARGV[i + 1], 'WITHSCORES')
    for j = 1, #rows, 2 do
      local member, at = rows[j], tonumber(rows[j + 1])
      local units = tonumber(string.match(member, '|(%-?%d+)$'))
      c30d = c30d + 1
      s30d = s30d + units
      if at >= t - DAY then
        c24h = c24h + 1
        s24h = s24h + units
        if at >= t - HOUR then
          c1h = c1h + 1
          s1h = s1h + units
        end
      end
      if previous == nil or at > previous then
        previous = at
      end
    end
    local m1h = redis.call('ZCOUNT', merchant_key, t - HOUR, '(' .. ARGV[i + 1])
    local m24h = redis.call('ZCOUNT', merchant_key, t - DAY, '(' .. ARGV[i + 1])

    local result = table.concat({
      fmt(c1h), fmt(s1h), fmt(c24h), fmt(s24h), fmt(c30d), fmt(s30d),
      previous and fmt(previous) or '', fmt(m1h), fmt(m24h), since,
    }, ' ')

    redis.call('ZADD', card_key, t, event_id .. '|' .. ARGV[i + 4])
    redis.call('ZREMRANGEBYSCORE', card_key, '-inf', '(' .. fmt(t - card_keep))
    redis.call('PEXPIRE', card_key, card_keep)
    redis.call('ZADD', merchant_key, t, event_id)
    redis.call('ZREMRANGEBYSCORE', merchant_key, '-inf', '(' .. fmt(t - merchant_keep))
    redis.call('PEXPIRE', merchant_key, merchant_keep)
    redis.call('SET', event_key, result, 'EX', dedupe_ttl)
    out[#out + 1] = result
  end
end
return out
