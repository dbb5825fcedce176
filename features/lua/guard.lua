-- Record an event's first result (docs/redis-keys.md, "Online features"). One key: the
-- event's hash. ARGV: raw, card, merchant, occurred ms, source, offset, TTL ms.
-- Returns {1, pending label or ''} when this call recorded it, else {0, raw, source, offset}
-- of the copy recorded first.
local v = redis.call('HMGET', KEYS[1], 'a', 's', 'o', 'p')
if v[1] then return {0, v[1], v[2] or '', v[3] or ''} end
redis.call('HSET', KEYS[1], 'a', ARGV[1], 'c', ARGV[2], 'm', ARGV[3], 't', ARGV[4], 's', ARGV[5], 'o', ARGV[6])
if v[4] then
  redis.call('HSET', KEYS[1], 'l', v[4])
  redis.call('HDEL', KEYS[1], 'p')
end
redis.call('PEXPIRE', KEYS[1], ARGV[7])
return {1, v[4] or ''}
