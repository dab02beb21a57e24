package redis

import goredis "github.com/redis/go-redis/v9"

// enqueueScript: KEYS stream, enq marker, done marker, delayed; ARGV
// record, ttl ms, due ms (0: at once), touch. With touch "1" a job already
// known still writes (its marker's expiry, set again), so that a WAIT
// after it also covers the write that first queued it, which may have come
// from another connection whose WAIT timed out.
var enqueueScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[3]) == 1 then
  if ARGV[4] == '1' then redis.call('PEXPIRE', KEYS[3], ARGV[2]) end
  return 0
end
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then
  if ARGV[4] == '1' then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
  return 0
end
if tonumber(ARGV[3]) > 0 then
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
else
  redis.call('XADD', KEYS[1], '*', 'j', ARGV[1])
end
return 1
`)

// claimScript promotes due retries into the stream, takes over entries idle
// longer than the lease, then reads new ones. KEYS stream, delayed, leases;
// ARGV group, consumer, now ms, lease ms, max.
//
// Redis times a lease as the entry's idle time, which XAUTOCLAIM compares
// with one min-idle for all entries. The leases set remembers every lease
// length in use (scored by when it was last used, forgotten a while after
// its leases ran out; forgetting too early would only delay a takeover),
// and the shortest applies: with one configured lease, as in any
// deployment, that is exactly the lease. Returns {{id, record, reclaimed}...}
// and the next retry's due time (” if none).
var claimScript = goredis.NewScript(`
local max = tonumber(ARGV[5])
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3], 'LIMIT', 0, 1000)
for _, m in ipairs(due) do
  redis.call('XADD', KEYS[1], '*', 'j', m)
  redis.call('ZREM', KEYS[2], m)
end
local now = tonumber(ARGV[3])
redis.call('ZADD', KEYS[3], now, ARGV[4])
local minl = tonumber(ARGV[4])
local ls = redis.call('ZRANGE', KEYS[3], 0, -1, 'WITHSCORES')
for i = 1, #ls, 2 do
  local l, seen = tonumber(ls[i]), tonumber(ls[i + 1])
  if seen + 2 * l + 60000 < now then redis.call('ZREM', KEYS[3], ls[i]) elseif l < minl then minl = l end
end
local out = {}
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], minl, '0-0', 'COUNT', max)
for _, e in ipairs(r[2]) do
  if e and e[2] then table.insert(out, {e[1], e[2][2], '1'}) end
end
if #out < max then
  local rr = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', max - #out, 'STREAMS', KEYS[1], '>')
  if rr then
    for _, e in ipairs(rr[1][2]) do table.insert(out, {e[1], e[2][2], '0'}) end
  end
end
local nx = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local nextdue = ''
if #nx == 2 then nextdue = nx[2] end
return {out, nextdue}
`)

// ackScript: KEYS stream, done marker, delivered counter; ARGV group, entry,
// ttl ms.
var ackScript = goredis.NewScript(`
redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
local n = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if n == 1 then redis.call('INCR', KEYS[3]) end
return n
`)

// ownsLua checks that entry ARGV[2] of group ARGV[1] is still pending for
// consumer ARGV[3]: the caller's lease holds.
const ownsLua = `
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] then return 0 end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
`

// nackScript: KEYS stream, delayed; ARGV group, entry, consumer, due ms,
// record.
var nackScript = goredis.NewScript(ownsLua + `
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
return 1
`)

// deadScript: KEYS stream, dead; ARGV group, entry, consumer, id, dead
// letter.
var deadScript = goredis.NewScript(ownsLua + `
redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
return 1
`)

// retryScript: KEYS dead, stream; ARGV id, record. The HDEL makes two
// racing retries requeue once.
var retryScript = goredis.NewScript(`
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('XADD', KEYS[2], '*', 'j', ARGV[2])
return 1
`)

// reserveScript: KEYS starts (a sorted set of accepted ids by start ms)
// and calls (a hash: id -> JSON [[source, call id], ...], the calls that
// start stands for); ARGV lo ms, hi ms, id, start ms, cutoff ms, ttl ms,
// source, call id. Returns the empty string (reserved, or reserved before) or the
// duplicate's id. The rules are crmsync.Store.ReserveStart's: a start
// holding another call id of this source is another call; of the others
// the nearest start wins, the earlier on a tie.
var reserveScript = goredis.NewScript(`
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[5])
for _, m in ipairs(old) do redis.call('HDEL', KEYS[2], m) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[5])
local src, cid = ARGV[7], ARGV[8]
local known = src ~= '' and cid ~= ''
local start = tonumber(ARGV[4])
local r = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[2], 'WITHSCORES')
local best, bestd, bestcalls
for i = 1, #r, 2 do
  if r[i] == ARGV[3] then return '' end
end
for i = 1, #r, 2 do
  local m = r[i]
  local calls = {}
  local raw = redis.call('HGET', KEYS[2], m)
  if raw then
    local ok, v = pcall(cjson.decode, raw)
    if ok and type(v) == 'table' then calls = v end
  end
  local may = true
  if known then
    for _, c in ipairs(calls) do
      if c[1] == src and c[2] ~= cid then may = false break end
    end
  end
  if may then
    local d = math.abs(tonumber(r[i + 1]) - start)
    if best == nil or d < bestd then best, bestd, bestcalls = m, d, calls end
  end
end
if best ~= nil then
  if known then
    local has = false
    for _, c in ipairs(bestcalls) do
      if c[1] == src and c[2] == cid then has = true break end
    end
    if not has then
      table.insert(bestcalls, {src, cid})
      redis.call('HSET', KEYS[2], best, cjson.encode(bestcalls))
      redis.call('PEXPIRE', KEYS[2], ARGV[6])
    end
  end
  return best
end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if known then
  redis.call('HSET', KEYS[2], ARGV[3], cjson.encode({{src, cid}}))
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
end
return ''
`)
