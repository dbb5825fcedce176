-- KEYS: seq, state, pending, the seen prefix, pending filing times (one slot).
-- ARGV: expected seq, state JSON, seen TTL s, pending TTL ms, pending cap, #seen, seen pairs
--       (event_id, kind), #pending to add, pending pairs (event_id, label JSON), then ids to
--       drop from pending. Returns {-1} (someone committed first) | {seq, pending, dropped}.
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
if seq ~= tonumber(ARGV[1]) then return {-1} end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[1], seq + 1)
local ttl = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local i = 6
local n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('SET', KEYS[4] .. ARGV[i], ARGV[i + 1], 'EX', ttl)
  i = i + 2
end
n = tonumber(ARGV[i]); i = i + 1
for _ = 1, n do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
  redis.call('ZADD', KEYS[5], now, ARGV[i])
  i = i + 2
end
while i <= #ARGV do
  redis.call('HDEL', KEYS[3], ARGV[i])
  redis.call('ZREM', KEYS[5], ARGV[i])
  i = i + 1
end
local dropped = 0
local function drop(ids)
  for _, id in ipairs(ids) do redis.call('HDEL', KEYS[3], id); redis.call('ZREM', KEYS[5], id) end
  dropped = dropped + #ids
end
drop(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now - tonumber(ARGV[4]), 'LIMIT', 0, 1000))
local over = redis.call('ZCARD', KEYS[5]) - tonumber(ARGV[5])
if over > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[5], over)
  local ids = {}
  for j = 1, #popped, 2 do ids[#ids + 1] = popped[j] end
  drop(ids)
end
return {seq + 1, redis.call('HLEN', KEYS[3]), dropped}
