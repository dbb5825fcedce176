-- One page of a search. KEYS: the candidate index keys (one slot, the API one). ARGV: rev
-- ('1' newest first), since_us, until_us, cursor score ('' = first page), cursor member,
-- limit, budget, with_review ('1'), and the wanted account, card, customer, merchant,
-- level, decision ('' = any). Walks the smallest candidate from the cursor's position
-- (Redis orders ties by member, bytewise), checks the filters against dmeta (whose TTL is
-- the record's: expired records are skipped). Returns {chosen candidate (1-based), next
-- score, next member ('' at the end), {{member, score, review hash fields}, ...}}; the
-- records themselves live in other slots and are read afterwards.
local P = table.remove(ARGV, 1)  -- the key prefix (store.layout.API)
local nc = #KEYS
local chosen, key = 1, KEYS[1]
if nc > 1 then
  local best = redis.call('ZCARD', key)
  for i = 2, nc do
    local size = redis.call('ZCARD', KEYS[i])
    if size < best then best, chosen, key = size, i, KEYS[i] end
  end
end
local o = 1
local rev = ARGV[o] == '1'
local since_s, until_s = ARGV[o + 1], ARGV[o + 2]
local since, untl = tonumber(since_s), tonumber(until_s)
local cscore, cmember = ARGV[o + 3], ARGV[o + 4]
local limit, budget = tonumber(ARGV[o + 5]), tonumber(ARGV[o + 6])
local with_review = ARGV[o + 7] == '1'
local want = {}
for k = 1, 6 do want[k] = ARGV[o + 7 + k] end

local function lt(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local function outside(score)
  if rev then return score < since end
  return score > untl
end
local function rows_at(pos, count)
  if rev then return redis.call('ZRANGE', key, pos, pos + count - 1, 'REV', 'WITHSCORES') end
  return redis.call('ZRANGE', key, pos, pos + count - 1, 'WITHSCORES')
end

local pos
if cscore == '' then
  if rev then pos = redis.call('ZCOUNT', key, '(' .. until_s, '+inf')
  else pos = redis.call('ZCOUNT', key, '-inf', '(' .. since_s) end
else
  -- Members already seen: all strictly before the cursor's score, and the ties up to its member.
  local seen = 0
  for _, m in ipairs(redis.call('ZRANGE', key, cscore, cscore, 'BYSCORE')) do
    if rev then
      if not lt(m, cmember) then seen = seen + 1 end
    elseif not lt(cmember, m) then seen = seen + 1 end
  end
  if rev then pos = redis.call('ZCOUNT', key, '(' .. cscore, '+inf') + seen
  else pos = redis.call('ZCOUNT', key, '-inf', '(' .. cscore) + seen end
end

local items = {}
local scanned, last_s, last_m, done = 0, nil, nil, false
local chunk = math.max(limit * 2, 100)
while true do
  local count = math.min(chunk, budget - scanned)
  local rows = rows_at(pos, count)
  local stop = false
  for j = 1, #rows, 2 do
    local m, s = rows[j], rows[j + 1]
    if outside(tonumber(s)) then done = true; stop = true; break end
    scanned, pos, last_s, last_m = scanned + 1, pos + 1, s, m
    local meta = redis.call('HMGET', P .. 'dmeta:' .. m, 'a', 'c', 'u', 'm', 'l', 'd')
    local ok = meta[1] ~= false
    if ok then
      for k = 1, 6 do
        if want[k] ~= '' and meta[k] ~= want[k] then ok = false; break end
      end
    end
    if ok then
      local review = {}
      if with_review then review = redis.call('HGETALL', P .. 'review:' .. m) end
      items[#items + 1] = {m, s, review}
      if #items >= limit then stop = true; break end
    end
    if scanned >= budget then stop = true; break end
  end
  if stop then break end
  if #rows < 2 * count then done = true; break end
end
if not done and #items >= limit then
  local peek = rows_at(pos, 1)
  if #peek == 0 or outside(tonumber(peek[2])) then done = true end
end
if done or not last_s then return {chosen, '', '', items} end
return {chosen, last_s, last_m, items}
