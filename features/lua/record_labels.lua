-- Record a batch of labels (after common.lua). ARGV[4..]: 3 values per label:
-- event_id, kind ("fraud"/"legit"), reported_ms. Returns how many changed anything.
local changed = 0
for i = 4, #ARGV, 3 do
  local event_id = ARGV[i]
  local label = ARGV[i + 1] .. ' ' .. ARGV[i + 2]
  local event_key = prefix .. 'f:event:' .. event_id
  local ev = redis.call('HMGET', event_key, 'c', 'm', 't', 'l')
  if ev[3] then
    changed = changed + apply_label(event_id, event_key, ev[1], ev[2], tonumber(ev[3]), ev[4] or nil, label)
  else
    -- The event is not known yet: keep the newest label until it is recorded.
    local pending_key = prefix .. 'f:pending:' .. event_id
    local old = redis.call('GET', pending_key)
    if newer(label, old or nil) then
      redis.call('SET', pending_key, label, 'EX', dedupe_ttl)
      changed = changed + 1
    end
  end
end
return changed
