-- ARGV[10] assignee.
if before.status == 'closed' then return {'closed'} end
redis.call('HSET', rkey, 'status', 'assigned', 'assignee', ARGV[10], 'assigned_at', ARGV[9],
           'assigned_by', ARGV[4])
move(before.status, 'assigned')
return finish(before)
