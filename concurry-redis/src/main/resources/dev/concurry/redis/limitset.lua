-- One limit set, evaluated atomically on the Redis server (SPEC L18). A line-by-line port of
-- dev.concurry.limit.spi.LimitMath: same state layout, same formulas in the same order, so the same
-- inputs give bit-identical doubles (Lua numbers are IEEE doubles like Java's). A differential test
-- (RedisDifferentialTest) checks it against the Java code.
--
-- Each set runs its own copy of this script: LimitScript prepends the set's constants, so that nothing
-- is parsed per call but the call's own arguments:
--   local SIG = '<signature>'                       stored with the set; another signature is refused
--   local SPECS = { [0] = { '<kind>', <capacity>, <window ns> }, ... }   kinds T L S F G R
-- A token bucket (T) is stored and run as GCRA (LimitMath: the same admissions, one number).
--
-- KEYS[1]  hash: sig; h (packed doubles: epoch, last grant's sequence number, last time, when the keys
--          expire, end of the restart quarantine or -1, then the state of each limit in order: three
--          words for F, four for S (its ring's header), one for the others); f (what the provider
--          reported for each rate limit: LimitMath's six feedback words per limit, written once a report
--          arrives); q (the set's queue of waiters across JVMs); o:<owner> (calls recorded per client);
--          s<i>.<slot> (the entries of sliding window i's ring)
-- KEYS[2]  sorted set of resource leases: member "<owner>|<i>=<n>;...", score = expiry (set time, ns)
-- ARGV[1]  op: acquire | settle | undo | leave | renew | stats | observe | init | clock
-- ARGV[2]  time: '' for the server clock (TIME), else the test clock in ns
-- ARGV[3]  owner: one client of the set (a JVM's RedisStore), for its records and its waiters' tickets
-- ARGV[4]  call number of this owner's call (0: an idempotent op, not recorded)
-- ARGV[5]  low: every call of this owner numbered below it is settled on the client's side
-- ARGV[6]  lease duration, ns
-- ARGV[7]  channel to publish on when waiters elsewhere may now go (units came back, the queue moved):
--          the message names the owners that hold the first ticket short of some key
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
-- before that much time has passed since the server started, and holders, which renew every third of
-- a lease (at most every 10 s), re-assert their leases meanwhile.
--
-- Fair waiting across JVMs (issue 20). A waiter (not a try) refused for the first time takes a ticket
-- in the set's queue q, placed by when it queued in its JVM (on this server's clock, as its client
-- estimates it; at most TICKET_TTL ago, never in the future), not by when its first call arrived: a
-- call already in flight may have held it back for a round trip. An attempt never overtakes a live
-- ticket older than its own that is short of a key it needs, whichever JVM holds it (first-come
-- first-served per key, across JVMs). A ticket lives TICKET_TTL after its owner last asked for it, so
-- that a dead JVM's waiters stop blocking.
--
-- Lean (issue 20): one HMGET and one HSET per call, PEXPIRE only when the keys' expiry must move, and
-- the functions of the algorithms and features a set does not use are never created (creating a
-- closure costs the server time on every call).
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
local max, min, floor = math.max, math.min, math.floor

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

-- ---- the limits (constants of this set's script) and the stored state ---------------------------

local record_field = 'o:' .. owner
local limits = {}
local count = 0
local words = 5           -- of h: the header, then each limit's state
local has_resource, has_sliding, has_fixed = false, false, false
for i = 0, #SPECS do
  local spec = SPECS[i]
  local kind, cap, win = spec[1], spec[2], spec[3]
  if kind == 'T' then kind = 'G' end
  local sliding = kind == 'S'
  local size = 1
  if sliding then size = 4 elseif kind == 'F' then size = 3 end
  -- One constructor with every field a call may set: the table is sized once (growing a table's hash
  -- part field by field is what costs the most here).
  local m = { kind = kind, cap = cap, win = win, field = 's' .. i, index = i, o = words, size = size,
              tol = 1e-12 * max(1.0, cap), per = win / cap,
              ring = sliding and 512 or 0,                    -- LimitMath.SW_RING
              cell = sliding and 2 * win / 512 or 0,
              s = false, dirty = false, f = false, slots = false, touched = false }
  if sliding then has_sliding = true
  elseif kind == 'R' then has_resource = true
  elseif kind == 'F' then has_fixed = true end
  words = words + size
  limits[i] = m
  count = count + 1
end
local H_FORMAT = '<' .. string.rep('d', words)

-- One read for the signature, the state, the queue, the caller's records and the provider's reports.
local head = redis.call('HMGET', H, 'sig', 'h', 'q', record_field, 'f')
local sig, queue_text, record_text, feedback_text = head[1], head[3], head[4], head[5]
local epoch, seq, last, expiry_until, quarantine
local stored = nil        -- the words of h, when the set exists
local fresh = false
if not sig then
  sig, epoch, seq, last, expiry_until, quarantine = SIG, abs, 0, 0, 0, -1
  fresh = true
  if has_resource and server_clock then
    -- The server lost this set, or never had it. If it started less than a lease ago (at most 30 s:
    -- holders renew at least every 10 s), permits granted before may still be held: withhold them
    -- until that much time has passed since the start, while their holders re-assert them.
    local up = tonumber(string.match(redis.call('INFO', 'server'), 'uptime_in_seconds:(%d+)')) or 0
    local rest = min(lease, 3e10) - up * 1e9
    if rest > 0 then quarantine = rest end
  end
elseif sig ~= SIG then
  return redis.error_reply('CONCURRY_SPEC_MISMATCH ' .. sig)
else
  stored = { struct.unpack(H_FORMAT, head[2]) }
  epoch, seq, last, expiry_until, quarantine = stored[1], stored[2], stored[3], stored[4], stored[5]
end
local now = (abs - epoch) * unit
if now < last then now = last end   -- the server's wall clock stepped back: time stands still instead
local withheld = quarantine > now    -- resource permits are withheld (a restart, see above)

-- ---- the caller's records (at most once) --------------------------------------------------------

local records = {}
local stored_low = 0
local records_dirty = false
if record_text then
  stored_low = tonumber(string.match(record_text, '^(%d+)'))
  if low > stored_low then
    for n, outcome in string.gmatch(record_text, '|(%d+):([^|]*)') do
      n = tonumber(n)
      if n >= low then records[n] = outcome end
    end
  else
    for n, outcome in string.gmatch(record_text, '|(%d+):([^|]*)') do records[tonumber(n)] = outcome end
  end
end
if low > stored_low then
  stored_low = low
  records_dirty = true
end
-- A call numbered below low is stale: its client settled it already, so nothing is applied.
local stale = call > 0 and call < stored_low

local function record(n, outcome)
  records[n] = outcome
  records_dirty = true
end

-- ---- state of each limit ------------------------------------------------------------------------

-- Declared first and defined below only for the algorithms this set uses.
local st, roll_window
local sliding_state, expire, sliding_wait, sliding_append, sliding_settle, sliding_end, sliding_in_use

-- State of limit m (1-based table; Java's s[o + k] is s[k + 1] here), loaded on first use: its words
-- of h, or its initial state.
function st(m)
  if m.s then return m.s end
  local s
  if m.kind == 'S' then
    s = sliding_state(m)
  elseif stored then
    s = {}
    for k = 1, m.size do s[k] = stored[m.o + k] end
  else
    s = {}
    local k = m.kind
    if k == 'L' or k == 'G' then s[1] = 0
    elseif k == 'F' then s[1] = floor(0 / m.win); s[2] = 0; s[3] = 0
    else s[1] = 0 end
  end
  m.s = s
  return s
end

-- What the provider reported for each rate limit (LimitMath's feedback words, SPEC F2-F4): budget,
-- budget end, mark, pause end, scale, source (the grant whose report set the budget). Neutral (and
-- then left out of every formula: the results are the algorithm's alone) until a report arrives.
local FB_WORDS = 6
local feedback = nil
if feedback_text then
  feedback = { struct.unpack('<' .. string.rep('d', FB_WORDS * count), feedback_text) }
  for i = 0, count - 1 do
    local f = {}
    for k = 1, FB_WORDS do f[k] = feedback[FB_WORDS * i + k] end
    limits[i].f = f
  end
end
local feedback_dirty = false

local function fb(m)
  if not m.f then
    m.f = { 0, -INF, 0, -INF, 1, 0 }
  end
  return m.f
end

if has_fixed then
  -- moves to the window of t; first_seq is the first grant counted in a new one (refunds check it)
  function roll_window(m, t, first_seq)
    local s = m.s
    local index = floor(t / m.win)
    if s[1] ~= index then
      s[1] = index
      s[2] = 0
      s[3] = first_seq
    end
  end
end

if has_sliding then
  -- Sliding window: a ring stored one entry per hash field ("s<i>.<slot>", loaded on first access
  -- through a metatable) so that a call touches only the few entries it reads, not the whole ring.
  -- Header: head, size, units, last expired seq; entries (time, units, seq).
  function sliding_state(m)
    local s = {}
    if stored then
      local o = m.o
      s[1], s[2], s[3], s[4] = stored[o + 1], stored[o + 2], stored[o + 3], stored[o + 4]
    else
      s[1], s[2], s[3], s[4] = 0, 0, 0, -1
    end
    local slots = {}
    m.slots = slots
    setmetatable(s, {
      __index = function(t, k)
        if type(k) ~= 'number' or k < 5 then return nil end
        local slot = floor((k - 5) / 3)
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
        if k >= 5 then slots[floor((k - 5) / 3)] = true end
      end
    })
    return s
  end

  local function entry(m, hd, i)
    return 5 + 3 * ((hd + i) % m.ring)
  end

  function expire(m, t)
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

  function sliding_wait(m, t, n)
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
    local fields, slots = {}, {}
    for slot = 0, m.ring - 1 do
      if rawget(s, 5 + 3 * slot) == nil then
        fields[#fields + 1] = m.field .. '.' .. slot
        slots[#slots + 1] = slot
      end
    end
    if #fields == 0 then return end
    local values = redis.call('HMGET', H, unpack(fields))
    for j, slot in ipairs(slots) do
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
      local cell_index = floor(time / m.cell)
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

  function sliding_append(m, t, n, sq)
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

  function sliding_settle(m, t, sq, last_seq, refund)
    expire(m, t)
    local s = m.s
    local expired = sq <= s[4]
    if not expired then
      local hd, size = s[1], s[2]
      for i = 0, size - 1 do
        local e = entry(m, hd, i)
        if s[e + 2] >= sq then
          local before = s[e + 1]
          local after = max(0, before - refund)
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

  -- Units still counted (the live entries are a suffix; their sum is the running total minus the
  -- expired prefix, so that only expired entries are read), and when the last entry leaves.
  function sliding_end(m, t)
    local s = m.s
    if s[2] == 0 then return 0 end
    return s[entry(m, s[1], s[2] - 1)] + m.win - t
  end

  function sliding_in_use(m, t)
    local s = m.s
    local hd, size = s[1], s[2]
    local sum = s[3]
    for i = 0, size - 1 do
      local e = entry(m, hd, i)
      if s[e] + m.win > t then return sum end
      sum = sum - s[e + 1]
    end
    return 0
  end
end

local function own_wait(m, t, n)
  local s = st(m)
  local k = m.kind
  if k == 'G' then
    local excess = max(s[1], t) + n * m.per - t - m.win
    if excess <= m.tol * m.per then return 0 end
    return excess
  elseif k == 'L' then
    local behind = s[1] - t
    if behind <= m.tol * m.per then return 0 end
    return behind
  elseif k == 'F' then
    local index = floor(t / m.win)
    local used = 0
    if s[1] == index then used = s[2] end
    if used + n <= m.cap + m.tol then return 0 end
    return (index + 1) * m.win - t
  elseif k == 'S' then
    m.dirty = true   -- expiry normalises the ring
    return sliding_wait(m, t, n)
  else
    if withheld then return quarantine - t end
    if s[1] + n <= m.cap then return 0 end
    return INF
  end
end

local function wait_time(m, t, n)
  if n == 0 then return 0 end
  local f = m.f
  if not f or m.kind == 'R' then return own_wait(m, t, n) end
  local scaled = n
  if f[5] ~= 1 then scaled = min(m.cap, n * f[5]) end
  local w = own_wait(m, t, scaled)
  local pause = f[4] - t
  if pause > 0 then w = max(w, pause) end
  local clamp = f[2] - t
  if clamp > 0 and n > f[1] + m.tol then w = max(w, clamp) end
  return w
end

local function commit(m, t, n, sq)
  local s = st(m)
  m.dirty = true
  local k = m.kind
  local f = m.f
  if f and k ~= 'R' then
    if t < f[2] then
      f[1] = f[1] - n
      feedback_dirty = true
    end
    if f[5] ~= 1 then n = n * f[5] end
  end
  if k == 'G' then
    s[1] = max(s[1], t) + n * m.per
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

local function own_in_use(m, t)
  local s = st(m)
  local k = m.kind
  if k == 'G' or k == 'L' then return max(0, s[1] - t) / m.per
  elseif k == 'F' then
    if s[1] == floor(t / m.win) then return s[2] end
    return 0
  elseif k == 'S' then
    return sliding_in_use(m, t)
  end
  return s[1]
end

local function in_use(m, t)
  local u = own_in_use(m, t)
  if m.kind == 'R' or not m.f then return u end
  return u / m.f[5]
end

-- Units grantable now (LimitMath.available): at most the provider's budget while it lasts, none
-- (or the debt) while paused.
local function available(m, t)
  local f = m.f
  if m.kind == 'R' or not f then return m.cap - own_in_use(m, t) end
  local a = (m.cap - own_in_use(m, t)) / f[5]
  if t < f[2] then a = min(a, f[1]) end
  if t < f[4] then a = min(a, 0) end
  return a
end

-- How long until limit m is back to its initial state if nothing happens (bounds the keys' TTL).
local function horizon(m, t)
  local s = st(m)
  local k = m.kind
  if k == 'G' or k == 'L' then return s[1] - t
  elseif k == 'F' then return (floor(t / m.win) + 1) * m.win - t
  elseif k == 'S' then return sliding_end(m, t)
  end
  return 0
end

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

-- ---- settling (settle and undo only) ------------------------------------------------------------

local settle
if op == 'settle' or op == 'undo' then
  function settle(m, t, sq, last_seq, granted, used)
    local refund = granted - used
    if refund == 0 then return end
    local s = st(m)
    m.dirty = true
    local k = m.kind
    local f = m.f
    if f and k ~= 'R' then
      if t < f[2] and sq > f[3] then
        f[1] = f[1] + refund
        feedback_dirty = true
      end
      if f[5] ~= 1 then refund = refund * f[5] end
    end
    if k == 'G' or k == 'L' then
      if refund > 0 then
        if s[1] > t then s[1] = max(t, s[1] - refund * m.per) end
      else
        s[1] = max(s[1], t) - refund * m.per
      end
    elseif k == 'F' then
      if refund > 0 then
        if s[1] == floor(t / m.win) and sq >= s[3] then
          s[2] = max(0, s[2] - refund)
        end
      else
        roll_window(m, t, last_seq + 1)
        s[2] = s[2] - refund
      end
    elseif k == 'S' then
      sliding_settle(m, t, sq, last_seq, refund)
    end
  end
end

-- ---- leases (sets with resource limits) ---------------------------------------------------------

local notify = false      -- units came back, or the queue moved: waiters elsewhere may now go
local leased = false      -- a lease was added: the lease set's expiry is set again
local permits, reclaim, release_lease, release, earliest_lease
if has_resource then
  function permits(member)
    return parse_request(string.sub(member, string.find(member, '|', 1, true) + 1))
  end

  function release(m, n)
    local s = st(m)
    m.dirty = true
    s[1] = max(0, s[1] - n)
  end

  -- Gives back the permits of expired leases (their holder stopped renewing: it crashed or hung).
  function reclaim(t)
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
  function release_lease(member)
    if redis.call('ZREM', L, member) == 1 then
      for _, p in ipairs(permits(member)) do release(p[1], p[2]) end
      notify = true
      return true
    end
    return false
  end

  function earliest_lease(t)
    local first = redis.call('ZRANGE', L, 0, 0, 'WITHSCORES')
    if first[2] then return fmt(tonumber(first[2]) - t) end
    return ''
  end
else
  function reclaim() end
end

-- ---- the queue across JVMs ----------------------------------------------------------------------

-- Tickets in order, each {when it queued, owner, id, short (list of limit indexes), expiry}, stored as
-- ";<queued>,<owner>,<id>,<i.j>,<expiry>;..." in field q.
local queue = {}
local queue_dirty = false
local moved = false      -- a ticket left: a waiter elsewhere may now be first
if queue_text then
  for t, o, id, short, e in string.gmatch(queue_text, ';([^,]+),([^,]+),(%d+),([^,]*),([^;]+)') do
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

local NONE = {}

-- Drops this owner's tickets of the waiters in ids ("<id>,<id>"; '*': all of them); returns the ids.
local function drop_tickets(ids)
  if ids == '' then return NONE end
  local gone = {}
  for id in string.gmatch(ids, '%d+') do gone[id] = true end
  if #queue == 0 then return gone end
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

-- ---- saving -------------------------------------------------------------------------------------

local function save()
  local fields = {}
  local n = 0
  local longest = 0
  local state = stored or {}
  for i = 0, count - 1 do
    local m = limits[i]
    local s = m.s or st(m)
    for k = 1, m.size do state[m.o + k] = s[k] end
    if m.dirty and m.kind == 'S' then
      -- Only live entries keep a field: an expired or merged-away slot is deleted (a never-touched
      -- slot reads as empty), so the hash holds as many entries as the window, not the whole ring.
      local gone = {}
      for slot in pairs(m.slots) do
        local base = 5 + 3 * slot
        if (slot - s[1]) % m.ring < s[2] then
          fields[n + 1] = m.field .. '.' .. slot
          fields[n + 2] = struct.pack('<ddd', rawget(s, base), rawget(s, base + 1), rawget(s, base + 2))
          n = n + 2
        else
          gone[#gone + 1] = m.field .. '.' .. slot
        end
      end
      if #gone > 0 then redis.call('HDEL', H, unpack(gone)) end
    end
    if m.kind ~= 'R' then
      longest = max(longest, m.win + max(0, horizon(m, now)))
      if m.f then
        -- a budget or a pause must outlive its end (-inf when neither was ever set)
        longest = max(longest, max(m.f[2], m.f[4]) - now)
      end
    end
  end
  if feedback_dirty then
    local words = {}
    for i = 0, count - 1 do
      local f = fb(limits[i])
      for k = 1, FB_WORDS do words[FB_WORDS * i + k] = f[k] end
    end
    fields[n + 1] = 'f'
    fields[n + 2] = struct.pack('<' .. string.rep('d', FB_WORDS * count), unpack(words))
    n = n + 2
  end
  -- Idle keys expire: after the state has returned to its initial value, plus three leases (a held
  -- permit's lease is renewed every third of it, which also renews these expiries). The expiry is
  -- set to twice that plus a second, and set again only once less than what is needed plus a second
  -- remains, so that most calls send no PEXPIRE; also when a lease was added (the lease set may just
  -- have been created), and on every call on a test clock, whose time is not the server's.
  -- Formatted as an integer, and capped at 1e13 ms (317 years): a huge debt must not produce a
  -- number Redis cannot parse (Lua prints large numbers with an exponent).
  local needed = longest + 3 * lease
  local expire_ms = nil
  if not server_clock or fresh or leased or now + needed + 1e9 > expiry_until then
    local ms = min(math.ceil(2 * needed / 1000000) + 1000, 1e13)
    expire_ms = string.format('%d', ms)
    expiry_until = now + ms * 1000000
  end
  if fresh then
    fields[n + 1] = 'sig'
    fields[n + 2] = sig
    n = n + 2
  end
  if records_dirty then
    local out = { stored_low }
    for k, outcome in pairs(records) do out[#out + 1] = k .. ':' .. outcome end
    fields[n + 1] = record_field
    fields[n + 2] = table.concat(out, '|')
    n = n + 2
  end
  if queue_dirty and #queue > 0 then
    local out = { '' }
    for _, e in ipairs(queue) do
      out[#out + 1] = fmt(e[1]) .. ',' .. e[2] .. ',' .. e[3] .. ',' .. table.concat(e[4], '.') .. ',' .. fmt(e[5])
    end
    fields[n + 1] = 'q'
    fields[n + 2] = table.concat(out, ';')
    n = n + 2
  end
  state[1], state[2], state[3], state[4], state[5] = epoch, seq, now, expiry_until, quarantine
  fields[n + 1] = 'h'
  fields[n + 2] = struct.pack(H_FORMAT, unpack(state, 1, words))
  redis.call('HSET', H, unpack(fields))
  if queue_dirty and #queue == 0 and queue_text then redis.call('HDEL', H, 'q') end
  if expire_ms then
    redis.call('PEXPIRE', H, expire_ms)
    if has_resource then redis.call('PEXPIRE', L, expire_ms) end
  end
  if notify and #queue > 0 then
    -- Only the owners of the first ticket short of each key can go now (the others queue behind
    -- them): they are told, so that the other JVMs do not all ask at once for nothing.
    local heads, seen, first = {}, {}, {}
    for _, e in ipairs(queue) do
      for _, i in ipairs(e[4]) do
        if not first[i] then
          first[i] = true
          if not seen[e[2]] then
            seen[e[2]] = true
            heads[#heads + 1] = e[2]
          end
        end
      end
    end
    redis.call('PUBLISH', ARGV[7], table.concat(heads, ','))
  end
end

-- ---- operations ---------------------------------------------------------------------------------

if op == 'acquire' then
  -- ARGV[8] ids of this owner's waiters that left ("<id>,<id>"), ARGV[9] count; then per attempt:
  -- its id, '1' for a try ('0' for a waiter), lease member ('' if no resource is taken),
  -- "<i>=<amount>;...", when it queued: "@<time>" (the time argument's clock: ns, or the server's
  -- clock in ns) or, if its client cannot tell, how long it has waited ("<ns>"). Attempts are decided
  -- in order; an attempt never overtakes a live ticket older than its own (or a waiter earlier in this
  -- call) short of a key it needs; a try never blocks anyone.
  -- Reply: 'A' (applied) or 'R' (replayed), wait until the earliest lease expires ('' if none),
  -- units available afterwards in each limit the batch touched ("i=units;..."), this call's time (an
  -- integer: the time argument, or the server's clock in µs), then per attempt the grant's sequence number
  -- (granted), or "<wait ns>/<short-of indexes i,j>" (refused), or "B/<indexes>" (queued behind an
  -- earlier waiter, who holds up those limits).
  local n = tonumber(ARGV[9])
  if stale then return { 'S' } end
  local prior = records[call]
  if prior then
    -- Seen before (a client re-sent it): the same grants again, the refused ones asked to retry.
    local out = { 'R', '', '', abs }
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
  local latest_mine = -INF   -- this owner's waiters queued in its JVM in the order of its calls
  local absent = NONE
  if #queue > 0 then
    local in_call = {}
    for a = 0, n - 1 do in_call[ARGV[10 + 5 * a]] = true end
    absent = {}
    for k, e in ipairs(queue) do
      e[6] = k   -- its place, to order tickets queued at the same instant
      if e[2] == owner then
        mine[e[3]] = e
        latest_mine = max(latest_mine, e[1])
      end
      if e[2] ~= owner or not in_call[e[3]] then absent[#absent + 1] = e end
    end
  end
  local out = { 'A', '', '', abs }
  local outcomes = {}
  local blocked = nil
  local short_resource = false
  for a = 0, n - 1 do
    local id = ARGV[10 + 5 * a]
    local is_try = ARGV[11 + 5 * a] == '1'
    local member = ARGV[12 + 5 * a]
    local parts = parse_request(ARGV[13 + 5 * a])
    local ticket = mine[id]
    local queued
    if ticket then
      queued = ticket[1]
    elseif is_try then
      queued = INF   -- a try comes after every waiter
    else
      local q = ARGV[14 + 5 * a]
      if string.sub(q, 1, 1) == '@' then
        queued = max(now - TICKET_TTL, min(now, tonumber(string.sub(q, 2)) - epoch * unit))
      else
        queued = now - min(tonumber(q), TICKET_TTL)
      end
      -- never before a ticket of its own JVM: that one queued there first (a client's estimate of the
      -- server's clock may improve between two calls)
      queued = max(queued, latest_mine)
    end
    local ahead = nil
    if #absent > 0 then
      for _, e in ipairs(absent) do
        -- older, or as old and queued first (a newcomer comes after a ticket of the same instant)
        if e[1] < queued or e[1] == queued and (not ticket or e[6] < ticket[6]) then
          ahead = ahead or {}
          for _, i in ipairs(e[4]) do ahead[i] = true end
        end
      end
    end
    local behind = nil
    for _, p in ipairs(parts) do
      local m = p[1]
      m.touched = true
      if p[2] > 0 and (blocked and blocked[m.index] or ahead and ahead[m.index]) then
        behind = behind or {}
        behind[#behind + 1] = m.index
      end
    end
    local short = behind
    if behind then
      out[a + 5] = 'B/' .. table.concat(behind, ',')
      outcomes[a + 1] = 0
    else
      local wait = 0
      for _, p in ipairs(parts) do
        local w = wait_time(p[1], now, p[2])
        if w > 0 then
          short = short or {}
          short[#short + 1] = p[1].index
          if w > wait then wait = w end
          if p[1].kind == 'R' then short_resource = true end
        end
      end
      if not short then
        seq = seq + 1
        for _, p in ipairs(parts) do commit(p[1], now, p[2], seq) end
        if member ~= '' then
          redis.call('ZADD', L, now + lease, member)
          leased = true
        end
        out[a + 5] = seq
        outcomes[a + 1] = seq
        if ticket then
          ticket[5] = -1   -- granted: its ticket leaves the queue below
          queue_dirty = true
          moved = true
        end
      else
        if not is_try then
          blocked = blocked or {}
          for _, i in ipairs(short) do blocked[i] = true end
        end
        out[a + 5] = fmt(wait) .. '/' .. table.concat(short, ',')
        outcomes[a + 1] = 0
      end
    end
    if short and not is_try and not gone[id] then
      -- refused: its place in the queue across JVMs, taken now if it had none, kept alive
      if not ticket then
        ticket = { queued, owner, id, short, 0 }
        local at = #queue + 1
        while at > 1 and queue[at - 1][1] > queued do at = at - 1 end   -- after those of the same instant
        table.insert(queue, at, ticket)
        mine[id] = ticket
        latest_mine = max(latest_mine, queued)
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
  local avail = {}
  for i = 0, count - 1 do
    local m = limits[i]
    if m.touched then avail[#avail + 1] = i .. '=' .. fmt(available(m, now)) end
  end
  out[3] = table.concat(avail, ';')
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
    elseif withheld or fresh then
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
  if moved then notify = true end
  save()
  return 1

elseif op == 'init' then
  save()
  return 'OK'

elseif op == 'clock' then
  -- Reply: the time argument, or the server's clock in µs (a client measures its offset to it).
  return fmt(abs)

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
    elseif withheld or fresh then
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
  local reclaimable = {}
  if has_resource then
    for _, member in ipairs(redis.call('ZRANGEBYSCORE', L, '-inf', now)) do
      for _, p in ipairs(permits(member)) do
        reclaimable[p[1].field] = (reclaimable[p[1].field] or 0) + p[2]
      end
    end
  end
  for i = 0, count - 1 do
    local m = limits[i]
    local used = in_use(m, now)
    if m.kind == 'R' then
      used = max(0, used - (reclaimable[m.field] or 0))
      out[#out + 1] = fmt(m.cap - used)
    else
      out[#out + 1] = fmt(available(m, now))
    end
    out[#out + 1] = fmt(used)
  end
  return out

elseif op == 'observe' then
  -- What a provider reported (SetAlgorithms.observe, SPEC F2-F4): ARGV[8]
  -- "<i>=<remaining>,<reset ns>,<pause ns>,<scale>;..." with 'x' where not reported, ARGV[9] the grant
  -- the report answers (-1: none). A report that sets a budget takes the next sequence number as its
  -- mark. Recorded (at most once). Reply: OK.
  if stale or records[call] then return 'OK' end
  local entries = {}
  local sets_budget = false
  for i, r, rs, p, sc in string.gmatch(ARGV[8], '(%d+)=([^,]+),([^,]+),([^,]+),([^;]+);') do
    local e = { limits[tonumber(i)], tonumber(r), tonumber(rs), tonumber(p), tonumber(sc) }
    if e[2] and e[3] and e[2] >= 0 and e[3] > 0 then sets_budget = true end
    entries[#entries + 1] = e
  end
  local mark = seq
  if sets_budget then
    seq = seq + 1
    mark = seq
  end
  local source = tonumber(ARGV[9])
  if source < 0 then source = mark end
  for _, e in ipairs(entries) do
    local m, remaining, reset, pause, scale = e[1], e[2], e[3], e[4], e[5]
    if m.kind ~= 'R' then
      -- LimitMath.observe
      local f = fb(m)
      feedback_dirty = true
      if pause and pause > 0 then f[4] = max(f[4], now + pause) end
      if remaining and reset and remaining >= 0 and reset > 0 then
        if now >= f[2] or source > f[6] then
          f[1] = remaining
          f[2] = now + reset
          f[6] = source
        else
          f[1] = min(f[1], remaining)
        end
        f[3] = mark
      end
      if scale and scale > 0 and scale < INF then f[5] = scale end
    end
  end
  notify = true   -- a budget may have grown: waiters in other JVMs look again
  if call > 0 then record(call, 'O') end
  save()
  return 'OK'
end

return redis.error_reply('CONCURRY_UNKNOWN_OP ' .. tostring(op))
