-- One limit set, evaluated atomically on the Redis server (SPEC L18). A line-by-line port of
-- dev.concurry.limit.LimitMath: same state layout, same formulas in the same order, so the same
-- inputs give bit-identical doubles (Lua numbers are IEEE doubles like Java's). A differential test
-- (RedisDifferentialTest) checks it against the Java code.
--
-- KEYS[1]  hash: sig, epoch, seq, last, s<i> (state of limit i, packed doubles; a sliding window: its
--          header, and s<i>.<slot> per ring entry), f<i> (what the provider reported for rate limit i:
--          LimitMath's feedback words, written once a report arrives)
-- KEYS[2]  sorted set of resource leases: member "<owner>|<i>=<n>;...", score = expiry (set time, ns)
-- ARGV[1]  op: init | acquire | settle | renew | stats | observe
-- ARGV[2]  time: '' for the server clock (TIME), else the test clock in ns
-- ARGV[3]  the set's spec signature: "concurry2#<sha1 of the keys>|<kind>:<capacity>:<window ns>|..."
-- ARGV[4]  lease duration, ns
-- ARGV[5]  channel to publish on when units come back (release, refund, reclaimed lease)
-- ARGV[6+] arguments of the op (see each op below)
--
-- Java encodes every call and decodes every reply in one place (dev.concurry.redis.LimitScript).
-- The decision of a batch is SetAlgorithms.decide's: requests in queue order, a waiter short of a key
-- blocks later requests needing it, a try never blocks anyone. Counters (grants, refunds...) are kept
-- by each JVM's engine, not here. Times inside the set are nanoseconds since the set's epoch (stored
-- when the set is created), as doubles, like the in-memory backend. Doubles are stored packed
-- (struct 'd'), so they round-trip exactly.

local H, L = KEYS[1], KEYS[2]
local op = ARGV[1]
local INF = math.huge

local function fmt(x)
  if x == INF then return 'Infinity' end
  if x == -INF then return '-Infinity' end
  return string.format('%.17g', x)
end

-- ---- time and identity --------------------------------------------------------------------------

local abs, unit
if ARGV[2] == '' then
  local t = redis.call('TIME')
  abs = tonumber(t[1]) * 1000000 + tonumber(t[2])   -- microseconds: exact in a double
  unit = 1000
else
  abs = tonumber(ARGV[2])
  unit = 1
end

-- ---- the limits ---------------------------------------------------------------------------------

local limits = {}
local has_resource = false
do
  local i = 0
  for kind, cap, win in string.gmatch(ARGV[3], '|(%a):([^:|]+):([^:|]+)') do
    -- a token bucket is stored and run as GCRA (LimitMath: the same admissions, one number)
    if kind == 'T' then kind = 'G' end
    local m = { kind = kind, cap = tonumber(cap), win = tonumber(win), field = 's' .. i }
    m.tol = 1e-12 * math.max(1.0, m.cap)
    m.per = m.win / m.cap
    if kind == 'S' then
      m.ring = 512            -- LimitMath.SW_RING
      m.cell = 2 * m.win / m.ring
    else
      m.ring = 0
      m.cell = 0
    end
    limits[i] = m
    if kind == 'R' then has_resource = true end
    i = i + 1
  end
end

-- One read for the header, every limit's state and its provider feedback.
local wanted = { 'sig', 'epoch', 'seq', 'last' }
for i = 0, #limits do wanted[#wanted + 1] = limits[i].field end
for i = 0, #limits do wanted[#wanted + 1] = 'f' .. i end
local head = redis.call('HMGET', H, unpack(wanted))
for i = 0, #limits do
  limits[i].blob = head[5 + i]
  limits[i].fblob = head[6 + #limits + i]
end
local sig, epoch, seq, last = head[1], tonumber(head[2]), tonumber(head[3]), tonumber(head[4])
if not sig then
  sig, epoch, seq, last = ARGV[3], abs, 0, 0
  redis.call('HSET', H, 'sig', sig, 'epoch', fmt(epoch), 'seq', 0, 'last', 0)
elseif sig ~= ARGV[3] then
  return redis.error_reply('CONCURRY_SPEC_MISMATCH ' .. sig)
end
local now = (abs - epoch) * unit
if now < last then now = last end   -- the server's wall clock stepped back: time stands still instead
local lease = tonumber(ARGV[4])

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
    if k == 'L' or k == 'G' then s[1] = 0
    elseif k == 'F' then s[1] = math.floor(0 / m.win); s[2] = 0; s[3] = 0
    else s[1] = 0 end
  end
  m.s = s
  return s
end

local function dirty(m) m.dirty = true end

-- What the provider reported for rate limit m (LimitMath's feedback words, SPEC F2-F4): budget, budget
-- end, mark, pause end, scale, source (the grant whose report set the budget). Neutral until a report.
local function fb(m)
  if m.f then return m.f end
  local f
  if m.fblob then
    f = { struct.unpack('<dddddd', m.fblob) }
    f[7] = nil
  else
    f = { 0, -INF, 0, -INF, 1, 0 }
  end
  m.f = f
  return f
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

local own_wait

local function wait_time(m, t, n)
  if n == 0 then return 0 end
  if m.kind == 'R' then return own_wait(m, t, n) end
  local f = fb(m)
  local scaled = n
  if f[5] ~= 1 then scaled = math.min(m.cap, n * f[5]) end
  local w = own_wait(m, t, scaled)
  local pause = f[4] - t
  if pause > 0 then w = math.max(w, pause) end
  local clamp = f[2] - t
  if clamp > 0 and n > f[1] + m.tol then w = math.max(w, clamp) end
  return w
end

own_wait = function(m, t, n)
  local s = st(m)
  local k = m.kind
  if k == 'G' then
    local excess = math.max(s[1], t) + n * m.per - t - m.win
    if excess <= m.tol * m.per then return 0 end
    return excess
  elseif k == 'L' then
    local behind = s[1] - t
    if behind <= m.tol * m.per then return 0 end
    return behind
  elseif k == 'F' then
    local index = math.floor(t / m.win)
    local count = 0
    if s[1] == index then count = s[2] end
    if count + n <= m.cap + m.tol then return 0 end
    return (index + 1) * m.win - t
  elseif k == 'S' then
    dirty(m)   -- expiry normalises the ring
    return sliding_wait(m, t, n)
  else
    if s[1] + n <= m.cap then return 0 end
    return INF
  end
end

local function commit(m, t, n, sq)
  local s = st(m)
  dirty(m)
  local k = m.kind
  if k ~= 'R' then
    local f = fb(m)
    if t < f[2] then
      f[1] = f[1] - n
      m.fdirty = true
    end
    if f[5] ~= 1 then n = n * f[5] end
  end
  if k == 'G' then
    s[1] = math.max(s[1], t) + n * m.per
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
  if k ~= 'R' then
    local f = fb(m)
    if t < f[2] and sq > f[3] then
      f[1] = f[1] + refund
      m.fdirty = true
    end
    if f[5] ~= 1 then refund = refund * f[5] end
  end
  if k == 'G' or k == 'L' then
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

local own_in_use

local function in_use(m, t)
  local u = own_in_use(m, t)
  if m.kind == 'R' then return u end
  return u / fb(m)[5]
end

-- Units grantable now (LimitMath.available): at most the provider's budget while it lasts, none
-- (or the debt) while paused.
local function available(m, t)
  if m.kind == 'R' then return m.cap - own_in_use(m, t) end
  local f = fb(m)
  local a = (m.cap - own_in_use(m, t)) / f[5]
  if t < f[2] then a = math.min(a, f[1]) end
  if t < f[4] then a = math.min(a, 0) end
  return a
end

-- Records a provider's report for rate limit m at t (LimitMath.observe); nil where not reported.
local function observe(m, t, mark, source, remaining, reset, pause, scale)
  if m.kind == 'R' then return end
  local f = fb(m)
  m.fdirty = true
  if pause and pause > 0 then f[4] = math.max(f[4], t + pause) end
  if remaining and reset and remaining >= 0 and reset > 0 then
    if t >= f[2] or source > f[6] then
      f[1] = remaining
      f[2] = t + reset
      f[6] = source
    else
      f[1] = math.min(f[1], remaining)
    end
    f[3] = mark
  end
  if scale and scale > 0 and scale < INF then f[5] = scale end
end

own_in_use = function(m, t)
  local s = st(m)
  local k = m.kind
  if k == 'G' or k == 'L' then return math.max(0, s[1] - t) / m.per
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
  if k == 'G' or k == 'L' then return s[1] - t
  elseif k == 'F' then return (math.floor(t / m.win) + 1) * m.win - t
  elseif k == 'S' then
    if s[2] == 0 then return 0 end
    return s[entry(m, s[1], s[2] - 1)] + m.win - t
  end
  return 0
end

-- ---- requests and leases ------------------------------------------------------------------------

-- "<i>=<amount>;..." -> list of {m, amount}
local function parse_request(text)
  local parts = {}
  for i, n in string.gmatch(text, '(%d+)=([^;]+)') do
    parts[#parts + 1] = { limits[tonumber(i)], tonumber(n) }
  end
  return parts
end

local notify = false

-- Gives back the permits of expired leases (their holder stopped renewing: it crashed or hung).
local function reclaim(t)
  if not has_resource then return end
  local expired = redis.call('ZRANGEBYSCORE', L, '-inf', t)
  for _, member in ipairs(expired) do
    local bar = string.find(member, '|', 1, true)
    for _, p in ipairs(parse_request(string.sub(member, bar + 1))) do
      release(p[1], p[2])
    end
    notify = true
  end
  if #expired > 0 then
    redis.call('ZREMRANGEBYSCORE', L, '-inf', t)
  end
end

local function save()
  local fields = {}
  local longest = 0
  for i = 0, #limits do
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
    if m.fdirty then
      fields[#fields + 1] = 'f' .. i
      fields[#fields + 1] = struct.pack('<dddddd', unpack(m.f))
    end
    if m.kind ~= 'R' then
      longest = math.max(longest, m.win + math.max(0, horizon(m, now)))
      if m.f or m.fblob then
        -- a budget or a pause must outlive its end (-inf when neither was ever set)
        local f = fb(m)
        longest = math.max(longest, math.max(f[2], f[4]) - now)
      end
    end
  end
  fields[#fields + 1] = 'last'
  fields[#fields + 1] = fmt(now)
  fields[#fields + 1] = 'seq'
  fields[#fields + 1] = seq
  redis.call('HSET', H, unpack(fields))
  -- Idle keys expire: after the state has returned to its initial value, plus three leases
  -- (a held permit's lease is renewed every third of it, which also renews these expiries).
  -- Formatted as an integer, and capped at 1e13 ms (317 years): a huge debt must not produce a number
  -- Redis cannot parse (Lua prints large numbers with an exponent).
  local ttl = string.format('%d', math.min(math.ceil((longest + 3 * lease) / 1000000) + 1000, 1e13))
  redis.call('PEXPIRE', H, ttl)
  if has_resource then redis.call('PEXPIRE', L, ttl) end
  if notify then redis.call('PUBLISH', ARGV[5], '1') end
end

local function earliest_lease(t)
  local first = redis.call('ZRANGE', L, 0, 0, 'WITHSCORES')
  if first[2] then return fmt(tonumber(first[2]) - t) end
  return ''
end

-- ---- operations ---------------------------------------------------------------------------------

if op == 'init' then
  save()
  return 'OK'

elseif op == 'acquire' then
  -- ARGV[6] count; then per request: "<i>=<amount>;...", lease member ('' if no resource is taken),
  -- '1' for a try ('0' for a waiter). Requests are decided in order; a waiter short of a key blocks
  -- the later requests needing that key (FIFO per key); a try is granted or refused and blocks nobody.
  -- Reply: now, wait until the earliest lease expires ('' if none), units available afterwards in
  -- each limit the batch touched ("i=units;..."), then per request three values:
  -- 1, seq, '' (granted) | 0, wait (ns), short-of indexes "i,j" | 2, '', blocked indexes "i,j"
  reclaim(now)
  local count = tonumber(ARGV[6])
  local out = { fmt(now), '', '' }
  local blocked = {}
  local touched = {}
  local short_resource = false
  for r = 0, count - 1 do
    local parts = parse_request(ARGV[7 + 3 * r])
    for _, p in ipairs(parts) do touched[p[1]] = true end
    local member = ARGV[8 + 3 * r]
    local is_try = ARGV[9 + 3 * r] == '1'
    local behind = {}
    for _, p in ipairs(parts) do
      if p[2] > 0 and blocked[p[1].field] then behind[#behind + 1] = string.sub(p[1].field, 2) end
    end
    if #behind > 0 then
      out[#out + 1] = 2; out[#out + 1] = ''; out[#out + 1] = table.concat(behind, ',')
    else
      local short, wait = {}, 0
      for _, p in ipairs(parts) do
        local w = wait_time(p[1], now, p[2])
        if w > 0 then
          short[#short + 1] = string.sub(p[1].field, 2)
          wait = math.max(wait, w)
          if p[1].kind == 'R' then short_resource = true end
        end
      end
      if #short == 0 then
        seq = seq + 1
        for _, p in ipairs(parts) do commit(p[1], now, p[2], seq) end
        if member ~= '' then redis.call('ZADD', L, now + lease, member) end
        out[#out + 1] = 1; out[#out + 1] = seq; out[#out + 1] = ''
      else
        if not is_try then
          for _, p in ipairs(parts) do
            if p[2] > 0 and wait_time(p[1], now, p[2]) > 0 then blocked[p[1].field] = true end
          end
        end
        out[#out + 1] = 0; out[#out + 1] = fmt(wait); out[#out + 1] = table.concat(short, ',')
      end
    end
  end
  if short_resource then out[2] = earliest_lease(now) end
  local avail = {}
  for i = 0, #limits do
    if touched[limits[i]] then avail[#avail + 1] = i .. '=' .. fmt(available(limits[i], now)) end
  end
  out[3] = table.concat(avail, ';')
  save()
  return out

elseif op == 'settle' then
  -- ARGV[6] seq, ARGV[7] "<i>=<granted>:<used>;..." (rate limits to settle), ARGV[8] lease member or ''.
  -- Reply: 1 lease released, 0 lease had expired (reclaimed), 2 no lease.
  reclaim(now)
  local sq = tonumber(ARGV[6])
  for i, g, u in string.gmatch(ARGV[7], '(%d+)=([^:]+):([^;]+)') do
    local m, granted, used = limits[tonumber(i)], tonumber(g), tonumber(u)
    settle(m, now, sq, seq, granted, used)
    if used < granted then notify = true end
  end
  local result = 2
  local member = ARGV[8]
  if member ~= '' then
    if redis.call('ZREM', L, member) == 1 then
      local bar = string.find(member, '|', 1, true)
      for _, p in ipairs(parse_request(string.sub(member, bar + 1))) do release(p[1], p[2]) end
      notify = true
      result = 1
    else
      result = 0
    end
  end
  save()
  return result

elseif op == 'renew' then
  -- ARGV[6+] lease members. Reply: per member 1 renewed, 0 gone (expired and reclaimed).
  reclaim(now)
  local out = {}
  for j = 6, #ARGV do
    if redis.call('ZSCORE', L, ARGV[j]) then
      redis.call('ZADD', L, now + lease, ARGV[j])
      out[#out + 1] = 1
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
    local bar = string.find(member, '|', 1, true)
    for _, p in ipairs(parse_request(string.sub(member, bar + 1))) do
      reclaimable[p[1].field] = (reclaimable[p[1].field] or 0) + p[2]
    end
  end
  for i = 0, #limits do
    local m = limits[i]
    local used = in_use(m, now)
    if m.kind == 'R' then
      used = math.max(0, used - (reclaimable[m.field] or 0))
      out[#out + 1] = fmt(m.cap - used)
    else
      out[#out + 1] = fmt(available(m, now))
    end
    out[#out + 1] = fmt(used)
  end
  return out

elseif op == 'observe' then
  -- ARGV[6] "<i>=<remaining>,<reset ns>,<pause ns>,<scale>;..." with 'x' where not reported, ARGV[7]
  -- the grant the report answers (-1: none) (SetAlgorithms.observe): a report that sets a budget takes
  -- the next sequence number as its mark. Reply: OK.
  local entries = {}
  local sets_budget = false
  for i, r, rs, p, sc in string.gmatch(ARGV[6], '(%d+)=([^,]+),([^,]+),([^,]+),([^;]+);') do
    local e = { limits[tonumber(i)], tonumber(r), tonumber(rs), tonumber(p), tonumber(sc) }
    if e[2] and e[3] and e[2] >= 0 and e[3] > 0 then sets_budget = true end
    entries[#entries + 1] = e
  end
  local mark = seq
  if sets_budget then
    seq = seq + 1
    mark = seq
  end
  local source = tonumber(ARGV[7])
  if source < 0 then source = mark end
  for _, e in ipairs(entries) do observe(e[1], now, mark, source, e[2], e[3], e[4], e[5]) end
  notify = true   -- a budget may have grown: waiters in other JVMs look again
  save()
  return 'OK'
end

return redis.error_reply('CONCURRY_UNKNOWN_OP ' .. tostring(op))
