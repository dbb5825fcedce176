-- Shared head: KEYS[1] the event's dmeta (it names the slot, the API one); ARGV[1] event id,
-- ARGV[2] account scope ('' = any), ARGV[3] audit maxlen,
-- ARGV[4..9] audit who, role, account, action, target, at; then per script.
local P = table.remove(ARGV, 1)  -- the key prefix (store.layout.API)
local eid, scope = ARGV[1], ARGV[2]
local meta = redis.call('HMGET', P .. 'dmeta:' .. eid, 'a', 'd', 't')
if not meta[1] or (scope ~= '' and meta[1] ~= scope) then return {'missing'} end
if meta[2] ~= 'review' then return {'not_review'} end
local account, score = meta[1], meta[3]
local rkey = P .. 'review:' .. eid
local FIELDS = {'status', 'assignee', 'assigned_at', 'assigned_by',
                'outcome', 'note', 'closed_at', 'closed_by'}
local function state()
  local v = redis.call('HMGET', rkey, unpack(FIELDS))
  local s = {}
  for i, f in ipairs(FIELDS) do s[f] = v[i] or cjson.null end
  if s.status == cjson.null then s.status = 'open' end
  return s
end
local function move(from, to)
  redis.call('ZREM', P .. 'rv:' .. from, eid)
  redis.call('ZADD', P .. 'rv:' .. to, score, eid)
  if account ~= '' then
    redis.call('ZREM', P .. 'rv:' .. from .. ':' .. account, eid)
    redis.call('ZADD', P .. 'rv:' .. to .. ':' .. account, score, eid)
  end
end
local function finish(before)
  local ttl = redis.call('PTTL', P .. 'dmeta:' .. eid)
  if ttl > 0 then redis.call('PEXPIRE', rkey, ttl) end
  local after = state()
  local b, a = cjson.encode(before), cjson.encode(after)
  redis.call('XADD', P .. 'audit', 'MAXLEN', '~', ARGV[3], '*', 'who', ARGV[4], 'role', ARGV[5],
             'account', ARGV[6], 'action', ARGV[7], 'target', ARGV[8], 'at', ARGV[9],
             'before', b, 'after', a)
  return {'ok', b, a, score}
end
local before = state()
