-- KEYS: version defs lists; ARGV: list key prefix
local lists = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  table.insert(lists, name)
  table.insert(lists, redis.call('SMEMBERS', ARGV[1] .. name))
end
return {redis.call('GET', KEYS[1]) or '0', redis.call('HGETALL', KEYS[2]), lists}
