-- Make a label an event's current one if it is newer (docs/redis-keys.md, "Labels"). One key:
-- the event's hash. ARGV: kind, reported ms, TTL ms (for a label whose event is not seen yet).
-- A recorded event's current label is the newer of `l` and `p` (a label that came before
-- the event stays in `p`). Returns {1, card, merchant, occurred ms} when it became the
-- recorded event's label, {2} when it became the pending label of an event not seen yet,
-- {0} when it changed nothing.
local function newer(kind, rep, old)
  if not old then return true end
  local okind, orep = string.match(old, '^(%a+) (%-?%d+)$')
  rep, orep = tonumber(rep), tonumber(orep)
  if rep ~= orep then return rep > orep end
  return kind == 'fraud' and okind ~= 'fraud'
end
local v = redis.call('HMGET', KEYS[1], 'a', 'l', 'p', 'c', 'm', 't')
local label = ARGV[1] .. ' ' .. ARGV[2]
if v[1] then
  if newer(ARGV[1], ARGV[2], v[2]) and newer(ARGV[1], ARGV[2], v[3]) then
    redis.call('HSET', KEYS[1], 'l', label)
    return {1, v[4], v[5], v[6]}
  end
  return {0}
end
if newer(ARGV[1], ARGV[2], v[3]) then
  local fresh = redis.call('EXISTS', KEYS[1]) == 0
  redis.call('HSET', KEYS[1], 'p', label)
  if fresh then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
  return {2}
end
return {0}
