-- KEYS: the key's hash, its bucket (one slot, the API one). ARGV: key_id, peppered digest, rate
-- per s, burst. Returns {0} (refused) | {1, role, account} |
-- {2, role, account, wait_us} (over the limit).
local rec = redis.call('HMGET', KEYS[1], 'hmac', 'role', 'account', 'revoked_at')
if (not rec[1]) or rec[1] ~= ARGV[2] or (rec[4] and rec[4] ~= '') then return {0} end
local rate = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local bucket = KEYS[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local b = redis.call('HMGET', bucket, 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate / 1000000) end
local ttl_ms = math.ceil(burst / rate * 1000) + 2000
if tokens < 1 then
  redis.call('HSET', bucket, 'tokens', tostring(tokens), 'ts', tostring(math.max(now, ts)))
  redis.call('PEXPIRE', bucket, ttl_ms)
  return {2, rec[2], rec[3] or '', math.ceil((1 - tokens) * 1000000 / rate)}
end
redis.call('HSET', bucket, 'tokens', tostring(tokens - 1), 'ts', tostring(math.max(now, ts)))
redis.call('PEXPIRE', bucket, ttl_ms)
return {1, rec[2], rec[3] or ''}
