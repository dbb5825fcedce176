-- KEYS: version seq defs lists history list_key; ARGV: op target detail who at history_max [items...]
local op, target = ARGV[1], ARGV[2]
if op == 'create' then
  target = tostring(redis.call('INCR', KEYS[2]))
  redis.call('HSET', KEYS[3], target, cjson.encode({text = ARGV[3], enabled = ARGV[7] == '1',
    created_at = ARGV[5], updated_at = ARGV[5]}))
elseif op == 'enable' or op == 'disable' or op == 'delete' then
  local raw = redis.call('HGET', KEYS[3], target)
  if not raw then return redis.error_reply('NORULE ' .. target) end
  if op == 'delete' then
    redis.call('HDEL', KEYS[3], target)
  else
    local rule = cjson.decode(raw)
    rule.enabled = op == 'enable'
    rule.updated_at = ARGV[5]
    redis.call('HSET', KEYS[3], target, cjson.encode(rule))
  end
  ARGV[3] = cjson.decode(raw).text
else
  redis.call('SADD', KEYS[4], target)
  for i = 7, #ARGV do
    redis.call(op == 'list_add' and 'SADD' or 'SREM', KEYS[6], ARGV[i])
  end
end
local version = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[6], '*', 'version', version, 'op', op,
  'target', target, 'detail', ARGV[3], 'who', ARGV[4], 'at', ARGV[5])
return {version, target}
