-- ARGV[10] outcome, ARGV[11] note ('' = none).
if before.status == 'closed' then return {'closed'} end
redis.call('HSET', rkey, 'status', 'closed', 'outcome', ARGV[10], 'closed_at', ARGV[9], 'closed_by', ARGV[4])
if ARGV[11] ~= '' then redis.call('HSET', rkey, 'note', ARGV[11]) else redis.call('HDEL', rkey, 'note') end
move(before.status, 'closed')
return finish(before)
