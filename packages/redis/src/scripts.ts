/**
 * The Lua scripts. Each touches the keys of one channel, one session or the
 * node registry (one Cluster slot), and takes its time from Redis (`TIME`),
 * so every node agrees on ages and leases whatever its own clock says.
 */

/** Milliseconds now, on the Redis clock. */
const NOW = `local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * The channel's epoch, created (with the candidate ARGV[e]) when missing. A
 * new epoch starts a new stream: the old one's seqs mean nothing any more.
 */
const EPOCH = (candidate: string, metaTtl: string): string => `
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ${candidate}
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 's', 0)
end
redis.call('PEXPIRE', KEYS[1], ${metaTtl})`;

/**
 * publish: KEYS meta, stream; ARGV pubsub channel, kind (J|B), data, epoch
 * candidate, history size, history ttl ms, meta ttl ms. Sequences, appends
 * (trimmed by count, roughly: reads enforce the exact bounds), and fans out
 * in one atomic step, so the stream and pub/sub agree on the order.
 */
export const PUBLISH = `${NOW}
${EPOCH('ARGV[4]', 'ARGV[7]')}
local seq = redis.call('HINCRBY', KEYS[1], 's', 1)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], seq .. '-0', 'k', ARGV[2], 'd', ARGV[3], 't', now)
redis.call('PEXPIRE', KEYS[2], ARGV[6])
redis.call('PUBLISH', ARGV[1], ARGV[2] .. epoch .. '\\n' .. seq .. '\\n' .. ARGV[3])
return {epoch, seq}`;

/**
 * read: KEYS meta, stream; ARGV since, limit (0: the position alone), epoch
 * candidate, history size, history ttl ms, meta ttl ms. Returns epoch, newest
 * seq and the newest entries after since (newest first) within the count and
 * age bounds: id, kind, data for each.
 */
export const READ = `${NOW}
${EPOCH('ARGV[3]', 'ARGV[6]')}
local last = tonumber(redis.call('HGET', KEYS[1], 's'))
local since = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local out = {}
if limit > 0 and since < last then
  local lowest = math.max(since + 1, last - tonumber(ARGV[4]) + 1)
  local entries = redis.call('XREVRANGE', KEYS[2], '+', lowest .. '-0', 'COUNT', limit)
  local stale = now - tonumber(ARGV[5])
  for _, entry in ipairs(entries) do
    local f = entry[2]
    local fields = {}
    for i = 1, #f, 2 do fields[f[i]] = f[i + 1] end
    if tonumber(fields['t']) < stale then break end
    out[#out + 1] = entry[1]
    out[#out + 1] = fields['k']
    out[#out + 1] = fields['d']
  end
end
return {epoch, last, out}`;

/** lease: KEYS nodes; ARGV node, lease ms. Renews the node's lease; returns the expired nodes it removed (this node sweeps them). */
export const LEASE = `${NOW}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 16)
for _, node in ipairs(dead) do redis.call('ZREM', KEYS[1], node) end
return dead`;

/** alive: KEYS nodes. The nodes whose lease has not expired. */
export const ALIVE = `${NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')`;

/** join: KEYS members; ARGV session, entry (`<node>\n<member JSON>`), presence pub/sub channel, event JSON. */
export const JOIN = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1`;

/** A presence entry is `<node>\n<member JSON>`: the member travels back byte for byte. */
const ENTRY = `
local function split(entry)
  local nl = string.find(entry, '\\n', 1, true)
  return string.sub(entry, 1, nl - 1), string.sub(entry, nl + 1)
end`;

/** leave: KEYS members; ARGV session, node, presence channel, channel name (JSON string). Only the node's own entry. */
export const LEAVE = `${ENTRY}
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
local node, member = split(entry)
if node ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[3], '{"type":"leave","channel":' .. ARGV[4] .. ',"member":' .. member .. '}')
return 1`;

/** evict: KEYS members; ARGV dead node, presence channel, channel name (JSON string). Removes a dead node's members, announcing each. */
export const EVICT = `${ENTRY}
local all = redis.call('HGETALL', KEYS[1])
local n = 0
for i = 1, #all, 2 do
  local node, member = split(all[i + 1])
  if node == ARGV[1] then
    redis.call('HDEL', KEYS[1], all[i])
    redis.call('PUBLISH', ARGV[2], '{"type":"leave","channel":' .. ARGV[3] .. ',"member":' .. member .. '}')
    n = n + 1
  end
end
return n`;

/** The session's keys get the TTL of its hash (a detached session), or none (attached). */
const FOLLOW_TTL = `
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then for i = 2, #KEYS do redis.call('PEXPIRE', KEYS[i], ttl) end end`;

/**
 * create: KEYS session (5); ARGV principal JSON, node. A new session, attached to the node.
 */
export const CREATE = `
redis.call('HSET', KEYS[1], 'p', ARGV[1], 'r', 0, 'o', ARGV[2], 'c', '', 'l', ARGV[2], 'm', 0, 'q', 0)
return 1`;

/**
 * claim: KEYS session (5); ARGV principal JSON, node, force (the owner
 * presumed dead, or ''). Takes a detached session over: returns
 * {'ok', received, highest message id, highest request id, last owner}; or
 * {'busy', owner} (the claimant is recorded: the owner tells it when it
 * let go), {'missing'}, {'other'} (another principal's).
 */
export const CLAIM = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
local f = redis.call('HMGET', KEYS[1], 'p', 'o', 'r', 'm', 'q', 'l')
if f[1] ~= ARGV[1] then return {'other'} end
local owner = f[2] or ''
if owner ~= '' and owner ~= ARGV[2] and owner ~= ARGV[3] then
  redis.call('HSET', KEYS[1], 'c', ARGV[2])
  return {'busy', owner}
end
redis.call('HSET', KEYS[1], 'o', ARGV[2], 'c', '', 'l', ARGV[2])
for i = 1, #KEYS do redis.call('PERSIST', KEYS[i]) end
return {'ok', f[3] or '0', f[4] or '0', f[5] or '0', f[6] or ''}`;

/**
 * release: KEYS session (5); ARGV node, session ttl ms, prefix, session id.
 * The node lets the session go (kept for a resume for the TTL); a claimant
 * waiting for it is told.
 */
export const RELEASE = `
if redis.call('HGET', KEYS[1], 'o') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'o', '')
for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
local c = redis.call('HGET', KEYS[1], 'c')
if c and c ~= '' then redis.call('PUBLISH', ARGV[3] .. ':node:' .. c, 'released ' .. ARGV[4]) end
return 1`;

/** orphan: KEYS session (5); ARGV dead node, session ttl ms. A dead node's session becomes detached (with the TTL). */
export const ORPHAN = `
if redis.call('HGET', KEYS[1], 'o') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'o', '')
for i = 1, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
return 1`;

/** end: KEYS session (5); ARGV node. The session ends for good (only by its owner). */
export const END = `
if redis.call('HGET', KEYS[1], 'o') ~= ARGV[1] then return 0 end
redis.call('DEL', unpack(KEYS))
return 1`;

/** set: KEYS session (5); ARGV field, value. An update of the session hash, if the session still exists. */
export const SET = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1`;

/**
 * start: KEYS session (5); ARGV kind (M: message, R: request), id, node. A
 * handler starts: the id is running on the node; the highest id moves.
 */
export const START = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local field = ARGV[1] == 'M' and 'm' or 'q'
redis.call('HSET', KEYS[2], ARGV[1] .. ARGV[2], ARGV[3])
if tonumber(ARGV[2]) > tonumber(redis.call('HGET', KEYS[1], field) or '0') then redis.call('HSET', KEYS[1], field, ARGV[2]) end
${FOLLOW_TTL}
return 1`;

/**
 * answer: KEYS session (5); ARGV kind (m|r), id, answer, window, owe (1: no
 * socket of this node has the session: queue it for whichever has), prefix,
 * session id. Remembers the answer (bounded window), clears the running mark.
 */
export const ANSWER = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local kind = ARGV[1]
local order = kind == 'm' and KEYS[3] or KEYS[4]
redis.call('HDEL', KEYS[2], string.upper(kind) .. ARGV[2])
redis.call('HSET', KEYS[2], kind .. ARGV[2], ARGV[3])
redis.call('RPUSH', order, ARGV[2])
if redis.call('LLEN', order) > tonumber(ARGV[4]) then
  redis.call('HDEL', KEYS[2], kind .. redis.call('LPOP', order))
end
if ARGV[5] == '1' then
  redis.call('RPUSH', KEYS[5], ARGV[3])
  redis.call('LTRIM', KEYS[5], -tonumber(ARGV[4]), -1)
  local o = redis.call('HGET', KEYS[1], 'o')
  if o and o ~= '' then redis.call('PUBLISH', ARGV[6] .. ':node:' .. o, 'owed ' .. ARGV[7]) end
end
${FOLLOW_TTL}
return 1`;

/** owe: KEYS session (5); ARGV answer, window, prefix, session id. An answer for the session's socket, wherever it is. */
export const OWE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[5], ARGV[1])
redis.call('LTRIM', KEYS[5], -tonumber(ARGV[2]), -1)
local o = redis.call('HGET', KEYS[1], 'o')
if o and o ~= '' then redis.call('PUBLISH', ARGV[3] .. ':node:' .. o, 'owed ' .. ARGV[4]) end
${FOLLOW_TTL}
return 1`;

/** drain: KEYS session (5). Takes the answers owed. */
export const DRAIN = `
local owed = redis.call('LRANGE', KEYS[5], 0, -1)
redis.call('DEL', KEYS[5])
return owed`;

/** Every script, by the command name it is defined under. */
export const SCRIPTS = {
  rxPublish: { keys: 2, lua: PUBLISH },
  rxRead: { keys: 2, lua: READ },
  rxLease: { keys: 1, lua: LEASE },
  rxAlive: { keys: 1, lua: ALIVE },
  rxJoin: { keys: 1, lua: JOIN },
  rxLeave: { keys: 1, lua: LEAVE },
  rxEvict: { keys: 1, lua: EVICT },
  rxCreate: { keys: 5, lua: CREATE },
  rxClaim: { keys: 5, lua: CLAIM },
  rxRelease: { keys: 5, lua: RELEASE },
  rxOrphan: { keys: 5, lua: ORPHAN },
  rxEnd: { keys: 5, lua: END },
  rxSet: { keys: 5, lua: SET },
  rxStart: { keys: 5, lua: START },
  rxAnswer: { keys: 5, lua: ANSWER },
  rxOwe: { keys: 5, lua: OWE },
  rxDrain: { keys: 5, lua: DRAIN },
} as const;
