-- One limit set, evaluated atomically on the Redis server (SPEC L18). A line-by-line port of
-- dev.concurry.limit.spi.LimitMath: same state layout, same formulas in the same order, so the same
-- inputs give bit-identical doubles (Lua numbers are IEEE doubles like Java's). A differential test
-- (RedisDifferentialTest) checks it against the Java code.
--
-- Each set runs its own copy of this script: LimitScript prepends the set's constants, so nothing is
-- parsed per call but the call's own arguments:
--   local SIG = '<signature>'                       stored with the set; another signature is refused
--   local SPECS = { [0] = { '<kind>', <capacity>, <window ns> }, ... }   kinds T L S F G R
--
-- KEYS[1]  hash: sig, epoch, seq, last, x (key expiry deadline), qe (end of the restart quarantine),
--          q (the set's queue of waiters across JVMs), o:<owner> (calls recorded per client),
--          s<i> (state of limit i, packed doubles; a sliding window: its header, s<i>.<slot> per entry)
-- KEYS[2]  sorted set of resource leases: member "<owner>|<i>=<n>;...", score = expiry (set time, ns)
-- ARGV[1]  op: init | acquire | settle | undo | leave | renew | stats
-- ARGV[2]  time: '' for the server clock (TIME), else the test clock in ns
-- ARGV[3]  owner: one client of the set (a JVM's RedisStore), for its records and its waiters' tickets
-- ARGV[4]  call number of this owner's call (0: an idempotent op, not recorded)
-- ARGV[5]  low: every call of this owner numbered below it is settled on the client's side
-- ARGV[6]  lease duration, ns
-- ARGV[7]  channel to publish on when waiters elsewhere may now go (units came back, the queue moved)
-- ARGV[8+] arguments of the op (see each op below)
--
-- At most once (issue 17 R1, R2). Clients re-send commands after reconnecting, and a call whose reply
-- was lost may have been applied. Every call that changes state carries its owner and number; the
-- outcome of each is recorded in o:<owner> ("<low>|<n>:<outcome>|...") until the client says, through
-- low, that it has the answer. A call seen again replays its recorded outcome instead of running
-- twice; a call numbered below low is stale (its client gave up on it and settled it) and does
-- nothing. A client that lost an acquire's reply sends undo: the grants it made are given back, or, if
-- it has not run yet, it is marked so that it never will.
--
-- Restarts (R3). When the set is created while the server has been up for less than a lease (at most
-- 30 s), resource permits may still be held by clients of the state the server lost: none is granted
-- before that much time has passed since the server started (qe), and holders, which renew every third
-- of a lease (at most every 10 s), re-assert their leases meanwhile.
--
-- Fair waiting across JVMs (issue 20). A waiter (not a try) refused for the first time takes a ticket
-- in the set's queue q; an attempt never overtakes a live ticket older than its own that is short of
-- a key it needs, whichever JVM holds it (first-come first-served per key, across JVMs). A ticket
-- lives TICKET_TTL after its owner last asked for it, so that a dead JVM's waiters stop blocking.
--
-- Java encodes every call and decodes every reply in one place (dev.concurry.redis.LimitScript).
-- Counters (grants, refunds...) are kept by each JVM's engine, not here. Times inside the set are
-- nanoseconds since the set's epoch (stored when the set is created), as doubles.

local H, L = KEYS[1], KEYS[2]
local op = ARGV[1]
local owner = ARGV[3]
local call = tonumber(ARGV[4])
local low = tonumber(ARGV[5])
local lease = tonumber(ARGV[6])
local INF = math.huge
local TICKET_TTL = 3e9

local function fmt(x)
  if x == INF then return 'Infinity' end
  if x == -INF then return '-Infinity' end
  return string.format('%.17g', x)
end

-- ---- time ---------------------------------------------------------------------------------------

local abs, unit
local server_clock = ARGV[2] == ''
if server_clock then
  local t = redis.call('TIME')
  abs = tonumber(t[1]) * 1000000 + tonumber(t[2])   -- microseconds: exact in a double
  unit = 1000
else
  abs = tonumber(ARGV[2])
  unit = 1
end

-- ---- the limits (constants of this set's script) ------------------------------------------------

local record_field = 'o:' .. owner
local wanted = { 'sig', 'epoch', 'seq', 'last', 'x', 'qe', 'q', record_field }
local limits = {}
local has_resource = false
local count = 0
for i = 0, #SPECS do
  local spec = SPECS[i]
  local m = { kind = spec[1], cap = spec[2], win = spec[3], field = 's' .. i, index = i }
  m.tol = 1e-12 * math.max(1.0, m.cap)
  m.per = m.win / m.cap
  if m.kind == 'S' then
    m.ring = 512            -- LimitMath.SW_RING
    m.cell = 2 * m.win / m.ring
  else
    m.ring = 0
    m.cell = 0
  end
  if m.kind == 'R' then has_resource = true end
  limits[i] = m
  count = count + 1
  wanted[#wanted + 1] = m.field
end

-- One read for the header, the caller's records and every limit's state.
local head = redis.call('HMGET', H, unpack(wanted))
for i = 0, count - 1 do limits[i].blob = head[9 + i] end
local sig, epoch, seq, last = head[1], tonumber(head[2]), tonumber(head[3]), tonumber(head[4])
local expiry_until = tonumber(head[5]) or 0
local quarantine = tonumber(head[6])
local queue_text, record_text = head[7], head[8]
local fresh = false
if not sig then
  sig, epoch, seq, last = SIG, abs, 0, 0
  fresh = true
  if has_resource and server_clock then
    -- The server lost this set, or never had it. If it started less than a lease ago, permits granted
    -- before may still be held: withhold them until a lease has passed since the start.
    -- Holders renew every third of a lease, at most every 10 s (RedisStore): after 3 renewals at most
    -- they have re-asserted what they hold.
    local up = tonumber(string.match(redis.call('INFO', 'server'), 'uptime_in_seconds:(%d+)')) or 0
    local rest = math.min(lease, 3e10) - up * 1e9
    if rest > 0 then quarantine = rest end
  end
elseif sig ~= SIG then
  return redis.error_reply('CONCURRY_SPEC_MISMATCH ' .. sig)
end
local now = (abs - epoch) * unit
if now < last then now = last end   -- the server's wall clock stepped back: time stands still instead
if quarantine and quarantine <= now then quarantine = nil end

-- ---- the caller's records (at most once) --------------------------------------------------------

local records = {}
local stored_low = 0
local records_dirty = false
if record_text then
  stored_low = tonumber(string.match(record_text, '^(%d+)'))
  for n, outcome in string.gmatch(record_text, '|(%d+):([^|]*)') do records[tonumber(n)] = outcome end
end
if low > stored_low then
  stored_low = low
  for n in pairs(records) do
    if n < low then records[n] = nil end
  end
  records_dirty = true
end

local function record(n, outcome)
  records[n] = outcome
  records_dirty = true
end

-- ---- state of each limit ------------------------------------------------------------------------

-- State of limit m (1-based table; Java's s[o + k] is s[k + 1] here), loaded on first use.
-- A sliding window's ring is stored one entry per hash field ("s<i>.<slot>", loaded on first access
-- through a metatable) so that a call touches only the few entries it reads, not the whole ring.
local function st(m)
  if m.s then return m.s end
  local blob = m.blob
  local s
  if m.kind == 'S' then
    s = {}
    if blob then
      s[1], s[2], s[3], s[4] = struct.unpack('<dddd', blob)
    else
      s[1], s[2], s[3], s[4] = 0, 0, 0, -1
    end
    local slots = {}
    m.slots = slots
    setmetatable(s, {
      __index = function(t, k)
        if type(k) ~= 'number' or k < 5 then return nil end
        local slot = math.floor((k - 5) / 3)
        local base = 5 + 3 * slot
        local e = redis.call('HGET', H, m.field .. '.' .. slot)
        local a, b, c = 0, 0, 0
        if e then a, b, c = struct.unpack('<ddd', e) end
        rawset(t, base, a); rawset(t, base + 1, b); rawset(t, base + 2, c)
        slots[slot] = true
        return rawget(t, k)
      end,
      __newindex = function(t, k, v)
        rawset(t, k, v)
        if k >= 5 then slots[math.floor((k - 5) / 3)] = true end
      end
    })
  elseif blob then
    s = { struct.unpack('<' .. string.rep('d', #blob / 8), blob) }
    s[#s] = nil   -- struct.unpack also returns the next position
  else
    s = {}
    local k = m.kind
    if k == 'T' then s[1] = m.cap; s[2] = 0
    elseif k == 'L' or k == 'G' then s[1] = 0
    elseif k == 'F' then s[1] = math.floor(0 / m.win); s[2] = 0; s[3] = 0
    else s[1] = 0 end
  end
  m.s = s
  return s
end

local function dirty(m) m.dirty = true end

local function tokens_at(m, t)
  local s = m.s
  local elapsed = t - s[2]
  if elapsed > 0 then return math.min(m.cap, s[1] + elapsed / m.per) end
  return s[1]
end

-- moves to the window of t; first_seq is the first grant counted in a new one (refunds check it)
local function roll_window(m, t, first_seq)
  local s = m.s
  local index = math.floor(t / m.win)
  if s[1] ~= index then
    s[1] = index
    s[2] = 0
    s[3] = first_seq
  end
end

-- sliding window ring: header head, size, units, last expired seq; entries (time, units, seq)
local function entry(m, hd, i)
  return 5 + 3 * ((hd + i) % m.ring)
end

local function expire(m, t)
  local s = m.s
  local hd, size, sum = s[1], s[2], s[3]
  while size > 0 do
    local e = entry(m, hd, 0)
    if s[e] + m.win > t then break end
    sum = sum - s[e + 1]
    s[4] = s[e + 2]
    hd = (hd + 1) % m.ring
    size = size - 1
  end
  s[1] = hd
  s[2] = size
  if size == 0 then s[3] = 0 else s[3] = sum end
end

local function sliding_wait(m, t, n)
  expire(m, t)
  local s = m.s
  local excess = s[3] + n - m.cap
  if excess <= m.tol then return 0 end
  local hd, size = s[1], s[2]
  local freed = 0
  for i = 0, size - 1 do
    local e = entry(m, hd, i)
    freed = freed + s[e + 1]
    if freed + m.tol >= excess then return s[e] + m.win - t end
  end
  return m.win
end

-- Reads every slot of a full ring in one HMGET (compaction visits them all).
local function load_ring(m)
  local s = m.s
  local fields, wanted = {}, {}
  for slot = 0, m.ring - 1 do
    if rawget(s, 5 + 3 * slot) == nil then
      fields[#fields + 1] = m.field .. '.' .. slot
      wanted[#wanted + 1] = slot
    end
  end
  if #fields == 0 then return end
  local values = redis.call('HMGET', H, unpack(fields))
  for j, slot in ipairs(wanted) do
    local a, b, c = 0, 0, 0
    if values[j] then a, b, c = struct.unpack('<ddd', values[j]) end
    local base = 5 + 3 * slot
    rawset(s, base, a); rawset(s, base + 1, b); rawset(s, base + 2, c)
    m.slots[slot] = true
  end
end

-- Merges each run of neighbours in one cell of the grid into its last entry (LimitMath.compact).
local function compact(m, hd, size)
  load_ring(m)
  local s = m.s
  local kept = 0
  local kept_cell = nil
  for i = 0, size - 1 do
    local from = entry(m, hd, i)
    local time, units, sq = s[from], s[from + 1], s[from + 2]
    local cell_index = math.floor(time / m.cell)
    if cell_index == kept_cell then
      units = units + s[entry(m, hd, kept - 1) + 1]
    else
      kept = kept + 1
      kept_cell = cell_index
    end
    local to = entry(m, hd, kept - 1)
    s[to] = time
    s[to + 1] = units
    s[to + 2] = sq
  end
  s[2] = kept
  return kept
end

local function sliding_append(m, t, n, sq)
  expire(m, t)
  local s = m.s
  local hd, size = s[1], s[2]
  if size > 0 then
    local lst = entry(m, hd, size - 1)
    if s[lst] == t then
      s[lst + 1] = s[lst + 1] + n
      s[lst + 2] = sq
      s[3] = s[3] + n
      return
    end
  end
  if size == m.ring then
    size = compact(m, hd, size)
    if size == m.ring then
      -- only if time went back (entries from the future): fold the oldest into the next one
      local first = entry(m, hd, 0)
      local second = entry(m, hd, 1)
      s[second + 1] = s[second + 1] + s[first + 1]
      hd = (hd + 1) % m.ring
      size = size - 1
      s[1] = hd
    end
  end
  local e = entry(m, hd, size)
  s[e] = t
  s[e + 1] = n
  s[e + 2] = sq
  s[2] = size + 1
  s[3] = s[3] + n
end

local function sliding_settle(m, t, sq, last_seq, refund)
  expire(m, t)
  local s = m.s
  local expired = sq <= s[4]
  if not expired then
    local hd, size = s[1], s[2]
    for i = 0, size - 1 do
      local e = entry(m, hd, i)
      if s[e + 2] >= sq then
        local before = s[e + 1]
        local after = math.max(0, before - refund)
        s[e + 1] = after
        s[3] = s[3] + (after - before)
        return
      end
    end
  end
  if refund < 0 then
    sliding_append(m, t, -refund, last_seq)
  end
end

local function wait_time(m, t, n)
  if n == 0 then return 0 end
  local s = st(m)
  local k = m.kind
  if k == 'G' then
    local excess = math.max(s[1], t) + n * m.per - t - m.win
    if excess <= m.tol * m.per then return 0 end
    return excess
  elseif k == 'T' then
    local tokens = tokens_at(m, t)
    if tokens + m.tol >= n then return 0 end
    return (n - tokens) * m.per
  elseif k == 'L' then
    local behind = s[1] - t
    if behind <= m.tol * m.per then return 0 end
    return behind
  elseif k == 'F' then
    local index = math.floor(t / m.win)
    local used = 0
    if s[1] == index then used = s[2] end
    if used + n <= m.cap + m.tol then return 0 end
    return (index + 1) * m.win - t
  elseif k == 'S' then
    dirty(m)   -- expiry normalises the ring
    return sliding_wait(m, t, n)
  else
    if quarantine then return quarantine - t end
    if s[1] + n <= m.cap then return 0 end
    return INF
  end
end

local function commit(m, t, n, sq)
  local s = st(m)
  dirty(m)
  local k = m.kind
  if k == 'G' then
    s[1] = math.max(s[1], t) + n * m.per
  elseif k == 'T' then
    s[1] = tokens_at(m, t) - n
    s[2] = math.max(s[2], t)
  elseif k == 'L' then
    -- counted from the drain instant when woken within a nanosecond of it: no drift (as LimitMath)
    local from = t
    if s[1] >= t - 1 then from = s[1] end
    s[1] = from + n * m.per
  elseif k == 'F' then
    roll_window(m, t, sq)
    s[2] = s[2] + n
  elseif k == 'S' then
    if n > 0 then sliding_append(m, t, n, sq) end
  else
    s[1] = s[1] + n
  end
end

local function settle(m, t, sq, last_seq, granted, used)
  local refund = granted - used
  if refund == 0 then return end
  local s = st(m)
  dirty(m)
  local k = m.kind
  if k == 'T' then
    s[1] = math.min(m.cap, tokens_at(m, t) + refund)
    s[2] = math.max(s[2], t)
  elseif k == 'G' or k == 'L' then
    if refund > 0 then
      if s[1] > t then s[1] = math.max(t, s[1] - refund * m.per) end
    else
      s[1] = math.max(s[1], t) - refund * m.per
    end
  elseif k == 'F' then
    if refund > 0 then
      if s[1] == math.floor(t / m.win) and sq >= s[3] then
        s[2] = math.max(0, s[2] - refund)
      end
    else
      roll_window(m, t, last_seq + 1)
      s[2] = s[2] - refund
    end
  elseif k == 'S' then
    sliding_settle(m, t, sq, last_seq, refund)
  end
end

local function release(m, n)
  local s = st(m)
  dirty(m)
  s[1] = math.max(0, s[1] - n)
end

local function in_use(m, t)
  local s = st(m)
  local k = m.kind
  if k == 'T' then return m.cap - tokens_at(m, t)
  elseif k == 'G' or k == 'L' then return math.max(0, s[1] - t) / m.per
  elseif k == 'F' then
    if s[1] == math.floor(t / m.win) then return s[2] end
    return 0
  elseif k == 'S' then
    -- Entries are in time order: the live ones are a suffix. Their sum is the running total minus
    -- the expired prefix (LimitMath sums the suffix; the two differ at most by rounding), so that
    -- stats read only the entries that have expired, not the whole ring.
    local hd, size = s[1], s[2]
    local sum = s[3]
    for i = 0, size - 1 do
      local e = entry(m, hd, i)
      if s[e] + m.win > t then return sum end
      sum = sum - s[e + 1]
    end
    return 0
  end
  return s[1]
end

-- How long until limit m is back to its initial state if nothing happens (bounds the keys' TTL).
local function horizon(m, t)
  local s = st(m)
  local k = m.kind
  if k == 'T' then return (m.cap - tokens_at(m, t)) * m.per
  elseif k == 'G' or k == 'L' then return s[1] - t
  elseif k == 'F' then return (math.floor(t / m.win) + 1) * m.win - t
  elseif k == 'S' then
    if s[2] == 0 then return 0 end
    return s[entry(m, s[1], s[2] - 1)] + m.win - t
  end
  return 0
end

-- ---- requests, leases and the queue -------------------------------------------------------------

-- "<i>=<amount>;..." -> list of {m, amount}; the attempts of one call often share a request
local parsed = {}
local function parse_request(text)
  local parts = parsed[text]
  if parts then return parts end
  parts = {}
  for i, n in string.gmatch(text, '(%d+)=([^;]+)') do
    parts[#parts + 1] = { limits[tonumber(i)], tonumber(n) }
  end
  parsed[text] = parts
  return parts
end

local function permits(member)
  return parse_request(string.sub(member, string.find(member, '|', 1, true) + 1))
end

local notify = false
local leased = false      -- a lease was added: the lease set's expiry is set again

-- Gives back the permits of expired leases (their holder stopped renewing: it crashed or hung).
local function reclaim(t)
  if not has_resource then return end
  local expired = redis.call('ZRANGEBYSCORE', L, '-inf', t)
  for _, member in ipairs(expired) do
    for _, p in ipairs(permits(member)) do release(p[1], p[2]) end
    notify = true
  end
  if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', L, '-inf', t)
  end
end

-- Gives back the permits of lease member if it is still held; whether it was.
local function release_lease(member)
  if redis.call('ZREM', L, member) == 1 then
    for _, p in ipairs(permits(member)) do release(p[1], p[2]) end
    notify = true
    return true
  end
  return false
end

-- The queue: tickets in order, each {ticket, owner, id, short (list of limit indexes), expiry}.
-- Stored as "<next ticket>;<ticket>,<owner>,<id>,<i.j>,<expiry>;..." in field q.
local queue = {}
local next_ticket = 1
local queue_dirty = false
local moved = false      -- a ticket left: a waiter elsewhere may now be first
if queue_text then
  next_ticket = tonumber(string.match(queue_text, '^(%d+)'))
  for t, o, id, short, e in string.gmatch(queue_text, ';(%d+),([^,]+),(%d+),([^,]*),([^;]+)') do
    local exp = tonumber(e)
    if exp > now then
      local keys = {}
      for i in string.gmatch(short, '%d+') do keys[#keys + 1] = tonumber(i) end
      queue[#queue + 1] = { tonumber(t), o, id, keys, exp }
    else
      queue_dirty = true
      moved = true
    end
  end
end

-- Drops this owner's tickets of the waiters in ids ("<id>,<id>"; '*': all of them); returns the ids.
local function drop_tickets(ids)
  local gone = {}
  if ids == '' then return gone end
  for id in string.gmatch(ids, '%d+') do gone[id] = true end
  local all = ids == '*'
  local kept = {}
  for _, e in ipairs(queue) do
    if e[2] == owner and (all or gone[e[3]]) then
      queue_dirty = true
      moved = true
    else
      kept[#kept + 1] = e
    end
  end
  queue = kept
  return gone
end

local function save_queue()
  if not queue_dirty then return end
  if #queue == 0 then
    redis.call('HDEL', H, 'q')
    return
  end
  local out = { next_ticket }
  for _, e in ipairs(queue) do
    out[#out + 1] = e[1] .. ',' .. e[2] .. ',' .. e[3] .. ',' .. table.concat(e[4], '.') .. ',' .. fmt(e[5])
  end
  redis.call('HSET', H, 'q', table.concat(out, ';'))
end

-- ---- saving -------------------------------------------------------------------------------------

local function save()
  local fields = {}
  local longest = 0
  for i = 0, count - 1 do
    local m = limits[i]
    if m.dirty and m.kind == 'S' then
      local s = m.s
      fields[#fields + 1] = m.field
      fields[#fields + 1] = struct.pack('<dddd', s[1], s[2], s[3], s[4])
      -- Only live entries keep a field: an expired or merged-away slot is deleted (a never-touched
      -- slot reads as empty), so the hash holds as many entries as the window, not the whole ring.
      local gone = {}
      for slot in pairs(m.slots) do
        local base = 5 + 3 * slot
        if (slot - s[1]) % m.ring < s[2] then
          fields[#fields + 1] = m.field .. '.' .. slot
          fields[#fields + 1] = struct.pack('<ddd', rawget(s, base), rawget(s, base + 1), rawget(s, base + 2))
        else
          gone[#gone + 1] = m.field .. '.' .. slot
        end
      end
      if #gone > 0 then redis.call('HDEL', H, unpack(gone)) end
    elseif m.dirty then
      fields[#fields + 1] = m.field
      fields[#fields + 1] = struct.pack('<' .. string.rep('d', #m.s), unpack(m.s))
    end
    if m.kind ~= 'R' then
      longest = math.max(longest, m.win + math.max(0, horizon(m, now)))
    end
  end
  if fresh then
    fields[#fields + 1] = 'sig'; fields[#fields + 1] = sig
    fields[#fields + 1] = 'epoch'; fields[#fields + 1] = fmt(epoch)
    if quarantine then fields[#fields + 1] = 'qe'; fields[#fields + 1] = fmt(quarantine) end
  end
  if records_dirty then
    local out = { stored_low }
    for n, outcome in pairs(records) do out[#out + 1] = n .. ':' .. outcome end
    fields[#fields + 1] = record_field
    fields[#fields + 1] = table.concat(out, '|')
  end
  fields[#fields + 1] = 'last'
  fields[#fields + 1] = fmt(now)
  fields[#fields + 1] = 'seq'
  fields[#fields + 1] = seq
  -- Idle keys expire: after the state has returned to its initial value, plus three leases
  -- (a held permit's lease is renewed every third of it, which also renews these expiries). The
  -- expiry is set to twice that plus a second, and set again only once less than what is needed
  -- plus a second remains (x: when the keys expire, in set time), so that most calls send no
  -- PEXPIRE; also when a lease was added (the lease set may have just been created), and on every
  -- call on a test clock, whose time is not the server's. Formatted as an integer, and capped at
  -- 1e13 ms (317 years): a huge debt must not produce a number Redis cannot parse (Lua prints large
  -- numbers with an exponent).
  local needed = longest + 3 * lease
  local expire_at = nil
  if not server_clock or fresh or leased or now + needed + 1e9 > expiry_until then
    local ms = math.min(math.ceil(2 * needed / 1000000) + 1000, 1e13)
    expire_at = string.format('%d', ms)
    fields[#fields + 1] = 'x'
    fields[#fields + 1] = fmt(now + ms * 1000000)
  end
  redis.call('HSET', H, unpack(fields))
  if expire_at then
    redis.call('PEXPIRE', H, expire_at)
    if has_resource then redis.call('PEXPIRE', L, expire_at) end
  end
  save_queue()
  if notify and #queue > 0 then redis.call('PUBLISH', ARGV[7], '1') end
end

local function earliest_lease(t)
  local first = redis.call('ZRANGE', L, 0, 0, 'WITHSCORES')
  if first[2] then return fmt(tonumber(first[2]) - t) end
  return ''
end

-- ---- operations ---------------------------------------------------------------------------------

-- A call numbered below low is stale: its client settled it already, so nothing is applied.
local stale = call > 0 and call < stored_low

if op == 'acquire' then
  -- ARGV[8] ids of this owner's waiters that left ("<id>,<id>"), ARGV[9] count; then per attempt:
  -- its id, '1' for a try ('0' for a waiter), lease member ('' if no resource is taken),
  -- "<i>=<amount>;...". Attempts are decided in order; an attempt never overtakes a live ticket older
  -- than its own (or a waiter earlier in this call) short of a key it needs; a try never blocks anyone.
  -- Reply: 'A' (applied) or 'R' (replayed), wait until the earliest lease expires ('' if none),
  -- units available afterwards in each limit the batch touched ("i=units;..."), then per attempt
  -- the grant's sequence number (granted), or "<wait ns>/<short-of indexes i,j>" (refused), or
  -- "B/<indexes>" (queued behind an earlier waiter, who holds up those limits).
  local n = tonumber(ARGV[9])
  if stale then return { 'S' } end
  local prior = records[call]
  if prior then
    -- Seen before (a client re-sent it): the same grants again, the refused ones asked to retry.
    local out = { 'R', '', '' }
    local k = 0
    for sq in string.gmatch(string.sub(prior, 2), '[^,]+') do
      k = k + 1
      if sq == '0' or string.sub(prior, 1, 1) ~= 'A' then out[#out + 1] = '0/' else out[#out + 1] = tonumber(sq) end
    end
    for _ = k + 1, n do out[#out + 1] = '0/' end
    return out
  end
  reclaim(now)
  -- A waiter may leave while the call deciding it is on its way: it takes no ticket then.
  local gone = drop_tickets(ARGV[8])
  -- This owner's tickets by waiter id, and the tickets of waiters not in this call (others' and
  -- this owner's beyond the call), which hold up the attempts that came after them.
  local mine = {}
  local in_call = {}
  for a = 0, n - 1 do in_call[ARGV[10 + 4 * a]] = true end
  local absent = {}
  for _, e in ipairs(queue) do
    if e[2] == owner then mine[e[3]] = e end
    if e[2] ~= owner or not in_call[e[3]] then absent[#absent + 1] = e end
  end
  local out = { 'A', '', '' }
  local outcomes = {}
  local blocked = {}
  local touched = {}
  local short_resource = false
  for a = 0, n - 1 do
    local id = ARGV[10 + 4 * a]
    local is_try = ARGV[11 + 4 * a] == '1'
    local member = ARGV[12 + 4 * a]
    local parts = parse_request(ARGV[13 + 4 * a])
    for _, p in ipairs(parts) do touched[p[1]] = true end
    local ticket = mine[id]
    local mark = ticket and ticket[1] or INF
    local ahead = {}
    for _, e in ipairs(absent) do
      if e[1] < mark then
        for _, i in ipairs(e[4]) do ahead[i] = true end
      end
    end
    local behind = {}
    for _, p in ipairs(parts) do
      local i = p[1].index
      if p[2] > 0 and (blocked[i] or ahead[i]) then behind[#behind + 1] = i end
    end
    local short = behind
    if #behind > 0 then
      out[#out + 1] = 'B/' .. table.concat(behind, ',')
      outcomes[#outcomes + 1] = 0
    else
      short = {}
      local wait = 0
      for _, p in ipairs(parts) do
        local w = wait_time(p[1], now, p[2])
        if w > 0 then
          short[#short + 1] = p[1].index
          wait = math.max(wait, w)
          if p[1].kind == 'R' then short_resource = true end
        end
      end
      if #short == 0 then
        seq = seq + 1
        for _, p in ipairs(parts) do commit(p[1], now, p[2], seq) end
        if member ~= '' then
          redis.call('ZADD', L, now + lease, member)
          leased = true
        end
        out[#out + 1] = seq
        outcomes[#outcomes + 1] = seq
        if ticket then
          ticket[5] = -1   -- granted: its ticket leaves the queue below
          queue_dirty = true
          moved = true
        end
      else
        if not is_try then
          for _, i in ipairs(short) do blocked[i] = true end
        end
        out[#out + 1] = fmt(wait) .. '/' .. table.concat(short, ',')
        outcomes[#outcomes + 1] = 0
      end
    end
    if #short > 0 and not is_try and not gone[id] then
      -- refused: its place in the queue across JVMs, taken now if it had none, kept alive
      if not ticket then
        ticket = { next_ticket, owner, id, short, 0 }
        next_ticket = next_ticket + 1
        queue[#queue + 1] = ticket
        mine[id] = ticket
      end
      ticket[4] = short
      ticket[5] = now + TICKET_TTL
      queue_dirty = true
    end
  end
  if queue_dirty then
    local kept = {}
    for _, e in ipairs(queue) do
      if e[5] > now then kept[#kept + 1] = e end
    end
    queue = kept
  end
  if moved then
    -- a ticket left: waiters in other JVMs may now be first for a key
    for _, e in ipairs(queue) do
      if e[2] ~= owner then notify = true break end
    end
  end
  if short_resource then out[2] = earliest_lease(now) end
  local available = {}
  for i = 0, count - 1 do
    if touched[limits[i]] then available[#available + 1] = i .. '=' .. fmt(limits[i].cap - in_use(limits[i], now)) end
  end
  out[3] = table.concat(available, ';')
  if call > 0 then record(call, 'A' .. table.concat(outcomes, ',')) end
  save()
  return out

elseif op == 'settle' then
  -- ARGV[8] seq, ARGV[9] "<i>=<granted>:<used>;..." (rate limits to settle), ARGV[10] lease member or ''.
  -- Reply: 1 lease released, 0 lease had expired (reclaimed), 2 no lease, 3 the lease was lost with
  -- the server's state (a restart), so nothing was held; -1 stale (nothing applied).
  if stale then return -1 end
  local prior = records[call]
  if prior then return tonumber(string.sub(prior, 2)) end
  reclaim(now)
  local sq = tonumber(ARGV[8])
  for i, g, u in string.gmatch(ARGV[9], '(%d+)=([^:]+):([^;]+)') do
    local m, granted, used = limits[tonumber(i)], tonumber(g), tonumber(u)
    settle(m, now, sq, seq, granted, used)
    if used < granted then notify = true end
  end
  local result = 2
  local member = ARGV[10]
  if member ~= '' then
    if release_lease(member) then
      result = 1
    elseif quarantine or fresh then
      result = 3
    else
      result = 0
    end
  end
  if call > 0 then record(call, 'S' .. result) end
  save()
  return result

elseif op == 'undo' then
  -- Gives back what acquire call ARGV[4] granted, its reply having been lost (the client told its
  -- callers that nothing was taken), or makes sure it never runs. ARGV[8] count, then per attempt of
  -- that call: its id, lease member, "<i>=<amount>;...". Reply: 1 given back, 0 it had not run
  -- (and now never will), -1 settled by the client already.
  if stale then return -1 end
  local prior = records[call]
  local result = 0
  if prior and string.sub(prior, 1, 1) == 'A' then
    reclaim(now)
    local a = 0
    for sq in string.gmatch(string.sub(prior, 2), '[^,]+') do
      local s = tonumber(sq)
      if s > 0 then
        local member = ARGV[10 + 3 * a]
        for _, p in ipairs(parse_request(ARGV[11 + 3 * a])) do
          if p[1].kind ~= 'R' then
            settle(p[1], now, s, seq, p[2], 0)
            notify = true
          end
        end
        if member ~= '' then release_lease(member) end
      end
      a = a + 1
    end
    result = 1
  end
  if not prior or result == 1 then record(call, 'U') end
  local ids = {}
  for a = 0, tonumber(ARGV[8]) - 1 do ids[#ids + 1] = ARGV[9 + 3 * a] end
  drop_tickets(table.concat(ids, ','))
  if moved then notify = true end
  save()
  return result

elseif op == 'leave' then
  -- ARGV[8] ids of this owner's waiters that left ("<id>,<id>", '*': all): their tickets leave the queue.
  drop_tickets(ARGV[8])
  if moved and #queue > 0 then notify = true end
  save()
  return 1

elseif op == 'init' then
  save()
  return 'OK'

elseif op == 'renew' then
  -- ARGV[8+] lease members. Reply: per member 1 renewed, 0 gone (expired and reclaimed), 2 re-asserted
  -- (the server lost it in a restart; its permits are counted again).
  reclaim(now)
  local out = {}
  for j = 8, #ARGV do
    local member = ARGV[j]
    if redis.call('ZSCORE', L, member) then
      redis.call('ZADD', L, now + lease, member)
      out[#out + 1] = 1
    elseif quarantine or fresh then
      redis.call('ZADD', L, now + lease, member)
      leased = true
      for _, p in ipairs(permits(member)) do commit(p[1], now, p[2], 0) end
      out[#out + 1] = 2
    else
      out[#out + 1] = 0
    end
  end
  save()
  return out

elseif op == 'stats' then
  -- Reply: per limit: available, in use (permits of expired leases count as returned). Writes nothing.
  local out = {}
  local expired = {}
  if has_resource then expired = redis.call('ZRANGEBYSCORE', L, '-inf', now) end
  local reclaimable = {}
  for _, member in ipairs(expired) do
    for _, p in ipairs(permits(member)) do
      reclaimable[p[1].field] = (reclaimable[p[1].field] or 0) + p[2]
    end
  end
  for i = 0, count - 1 do
    local m = limits[i]
    local used = in_use(m, now)
    if m.kind == 'R' then used = math.max(0, used - (reclaimable[m.field] or 0)) end
    out[#out + 1] = fmt(m.cap - used)
    out[#out + 1] = fmt(used)
  end
  return out
end

return redis.error_reply('CONCURRY_UNKNOWN_OP ' .. tostring(op))
