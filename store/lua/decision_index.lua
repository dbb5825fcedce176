-- KEYS[1]: the index of every decision (it names the slot). ARGV: ttl_s, cut_us (members
-- scored at or before it are trimmed), then per event: mode ('r': a record stored before:
-- index it unless its dmeta exists), ref, account, card, customer, merchant (pseudonyms),
-- risk_level, decision, scored_us. Returns the number of events indexed.
local P = table.remove(ARGV, 1)  -- the key prefix (store.layout.API)
local ttl = tonumber(ARGV[1])
local cut = ARGV[2]
local touched, order = {}, {}
local function add(key, score, member)
  redis.call('ZADD', key, score, member)
  if not touched[key] then touched[key] = true; order[#order + 1] = key end
end
local n = 0
for i = 3, #ARGV, 9 do
  local mode, eid = ARGV[i], ARGV[i + 1]
  local account, card, customer, merchant = ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[i + 5]
  local level, decision, score = ARGV[i + 6], ARGV[i + 7], ARGV[i + 8]
  local meta = P .. 'dmeta:' .. eid
  if redis.call('EXISTS', meta) == 0 then
    n = n + 1
    redis.call('HSET', meta, 'a', account, 'c', card, 'u', customer, 'm', merchant,
               'l', level, 'd', decision, 't', score)
    redis.call('EXPIRE', meta, ttl)
    add(P .. 'dx:all', score, eid)
    add(P .. 'dx:card:' .. card, score, eid)
    add(P .. 'dx:merchant:' .. merchant, score, eid)
    if account ~= '' then
      add(P .. 'dx:account:' .. account, score, eid)
      redis.call('SADD', P .. 'accounts', account)
    end
    if customer ~= '' then add(P .. 'dx:customer:' .. customer, score, eid) end
    if level ~= '' then add(P .. 'dx:level:' .. level, score, eid) end
    if decision ~= '' then add(P .. 'dx:decision:' .. decision, score, eid) end
    if decision == 'review' then
      -- A review that was worked before its metadata got lost stays in its queue.
      local status = redis.call('HGET', P .. 'review:' .. eid, 'status') or 'open'
      add(P .. 'rv:' .. status, score, eid)
      if account ~= '' then add(P .. 'rv:' .. status .. ':' .. account, score, eid) end
    end
  end
end
for _, key in ipairs(order) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', cut)
  redis.call('EXPIRE', key, ttl)
end
return n
