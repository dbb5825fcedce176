-- Compare-and-set of one entity state (docs/redis-keys.md, "Online features"). One key.
-- ARGV: the 8-byte version read ('' = the key was absent), the new value (its own version
-- first), TTL ms. Returns 1 when written, 0 when another writer got there first.
local cur = redis.call('GET', KEYS[1])
if cur then
  if string.sub(cur, 1, 8) ~= ARGV[1] then return 0 end
elseif ARGV[1] ~= '' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
