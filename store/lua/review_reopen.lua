-- Undo a close whose label was not published. ARGV[10] the closed_at it set, ARGV[11] the
-- status before it, ARGV[12] the note before it ('' = none).
if before.status ~= 'closed' or before.closed_at ~= ARGV[10] then return {'changed'} end
redis.call('HDEL', rkey, 'outcome', 'closed_at', 'closed_by', 'note')
if ARGV[12] ~= '' then redis.call('HSET', rkey, 'note', ARGV[12]) end
redis.call('HSET', rkey, 'status', ARGV[11])
move('closed', ARGV[11])
return finish(before)
