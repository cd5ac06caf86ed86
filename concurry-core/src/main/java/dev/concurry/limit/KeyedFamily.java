package dev.concurry.limit;

import dev.concurry.limit.spi.FamilyStore;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;
import dev.concurry.time.MonotonicClock;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A keyed family (SPEC L24): one {@link LimitEngine} per key in use, each over its own store from the
 * backend's {@link FamilyStore}. Everything a set does (queueing, waiting, timeouts, async, settling,
 * refusals, counters) is that engine's; this class only finds a key's engine, creates it on first use and
 * drops it when dropping it changes nothing.
 *
 * <h2>Pins: eviction never races an acquisition</h2>
 * Each key's {@link Entry} has one word: how many users pin it (an acquisition in progress, a waiter,
 * an open acquisition), a version bumped by every pin, and two flags. Every call into a key's engine
 * runs pinned, and an acquisition stays pinned until it is closed (its settlement may still refund or
 * charge). The sweeper drops a key only by one compare-and-set of its word from "no pin, seen idle" to
 * {@link #RETIRED}, after reading that the engine's state is back to initial ({@link LimitEngine#idleIn}):
 * a pin taken in between changes the version, so the compare-and-set fails and the key is examined
 * again. A retired entry is never pinned again: whoever finds one takes it out of the map and creates a
 * fresh entry. So no grant, held permit, debt or window is ever lost with a dropped engine. (The one
 * thing an engine does unpinned is give back a grant whose future was cancelled: it only frees units,
 * and on a state already back to initial that changes nothing.)
 *
 * <h2>Sweeping: no scan of all keys</h2>
 * The last unpin of a key that is not queued ({@link #QUEUED}) pushes it on a lock-free stack of
 * released keys; the sweeper examines each once, then keeps it in a bucket of a time wheel
 * ({@link #due}) at the instant its state will be back to initial. A key found idle is marked
 * {@link #SEEN} and examined again one tick later: dropped if nobody pinned it since (the pin clears the
 * mark), so a key is dropped after it was idle and unused for between one and two ticks
 * ({@code evictIdleAfter}). A key that is pinned when examined leaves the wheel; its last unpin
 * queues it again. Sweeps run on clock wake-ups, only when something is due, off the timer thread with
 * the system clock (inline with a test's manual clock, so that eviction timing is exact). A new key
 * beyond {@code maxKeys} runs a sweep at once that drops every idle key without waiting for a tick.
 */
final class KeyedFamily<K> implements KeyedLimits<K> {
    private static final Logger log = LoggerFactory.getLogger(KeyedFamily.class);
    private static final Executor SWEEPS = Executors.newVirtualThreadPerTaskExecutor();

    // The word of an entry: PINS in bits 0-30, QUEUED bit 31, SEEN bit 32, a version in bits 33-62.
    private static final long PINS = 0x7fff_ffffL;
    /** In the released stack or the wheel: the sweeper will examine it. */
    private static final long QUEUED = 1L << 31;
    /** Found idle and unpinned by the sweeper; any pin clears it. */
    private static final long SEEN = 1L << 32;
    private static final long VERSION_UNIT = 1L << 33;
    private static final long VERSION = 0x3fff_ffffL << 33;
    /** Dropped: never pinned again. */
    private static final long RETIRED = Long.MIN_VALUE;

    /** A tier of the family: the keys {@code applies} accepts get {@code limits}. */
    record Tier<K>(Predicate<? super K> applies, List<Limit> limits) {
    }

    private final String name;
    private final List<Limit> template;
    private final List<Tier<K>> overrides;
    /** Per tier (by the identity of its limits), the definition its keys share when there is no per-key config. */
    private final Map<List<Limit>, LimitSetDefinition> shared = new IdentityHashMap<>();
    private final Map<String, String> config;
    private final Function<? super K, ? extends Map<String, String>> configOf;
    private final LimitBackend backend;
    private final FamilyStore stores;
    private final boolean dropWhenUnused;
    private final int maxKeys;
    private final long tick;

    private final ConcurrentHashMap<K, Entry<K>> entries = new ConcurrentHashMap<>();
    /** Keys held or being created (a slot is reserved before a store is opened). */
    private final AtomicInteger slots = new AtomicInteger();
    /** Keys whose last pin went, waiting to be examined (a Treiber stack through {@link Entry#nextReleased}). */
    private final AtomicReference<Entry<K>> released = new AtomicReference<>();
    /** When the earliest sweep requested will run ({@link Long#MAX_VALUE}: none). */
    private final AtomicLong nextSweepAt = new AtomicLong(Long.MAX_VALUE);
    private final ReentrantLock sweeping = new ReentrantLock();
    /** Guarded by {@link #sweeping}: the keys to examine at each tick index. */
    private final TreeMap<Long, List<Entry<K>>> due = new TreeMap<>();
    private final LongAdder created = new LongAdder();
    private final LongAdder evicted = new LongAdder();
    private final LongAdder refused = new LongAdder();
    /** The stores' clock, known once the first store is open. */
    private volatile MonotonicClock clock;
    private volatile boolean closed;

    KeyedFamily(String name, List<Limit> template, List<Tier<K>> overrides, Map<String, String> config,
                Function<? super K, ? extends Map<String, String>> configOf, LimitBackend backend, FamilyStore stores,
                int maxKeys, Duration evictIdleAfter) {
        this.name = name;
        this.template = template;
        this.overrides = List.copyOf(overrides);
        this.config = config;
        this.configOf = configOf;
        this.backend = backend;
        this.stores = stores;
        this.dropWhenUnused = stores.stateOutlivesStore();
        this.maxKeys = maxKeys;
        this.tick = Math.max(1, LimitEngine.timeoutNanos(evictIdleAfter));
        shared.put(template, new LimitSetDefinition(name, template, config));
        for (Tier<K> tier : this.overrides) {
            shared.put(tier.limits(), new LimitSetDefinition(name, tier.limits(), config));
        }
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<Limit> limits() {
        return template;
    }

    @Override
    public List<Limit> limits(K key) {
        return tierOf(checkKey(key));
    }

    @Override
    public LimitBackend backend() {
        return backend;
    }

    // ---- acquiring: each form is the key's engine's, pinned ------------------------------------

    @Override
    public Acquisition acquire(K key, Request request) {
        Entry<K> e = pinned(key);
        Acquisition granted;
        try {
            granted = e.engine.acquire(request);
        } catch (RuntimeException | Error failure) {
            unpin(e);
            throw failure;
        }
        return new Held(granted, e);
    }

    @Override
    public Acquisition acquire(K key, Request request, Duration timeout) {
        Entry<K> e = pinned(key);
        Acquisition granted;
        try {
            granted = e.engine.acquire(request, timeout);
        } catch (RuntimeException | Error failure) {
            unpin(e);
            throw failure;
        }
        return new Held(granted, e);
    }

    @Override
    public Optional<Acquisition> tryAcquire(K key, Request request) {
        Entry<K> e = pinned(key);
        Acquisition granted;
        try {
            granted = e.engine.tryAcquire(request).orElse(null);
        } catch (RuntimeException | Error failure) {
            unpin(e);
            throw failure;
        }
        if (granted == null) {
            unpin(e);
            return Optional.empty();
        }
        return Optional.of(new Held(granted, e));
    }

    @Override
    public Attempt attempt(K key, Request request) {
        Entry<K> e = pinned(key);
        Attempt attempt;
        try {
            attempt = e.engine.attempt(request);
        } catch (RuntimeException | Error failure) {
            unpin(e);
            throw failure;
        }
        if (attempt instanceof Attempt.Granted granted) {
            return new Attempt.Granted(new Held(granted.acquisition(), e));
        }
        unpin(e);
        return attempt;
    }

    @Override
    public CompletableFuture<Acquisition> acquireAsync(K key, Request request) {
        return async(key, request, null);
    }

    @Override
    public CompletableFuture<Acquisition> acquireAsync(K key, Request request, Duration timeout) {
        return async(key, request, Objects.requireNonNull(timeout, "timeout"));
    }

    /**
     * The engine's future, its grant wrapped once it comes. The key stays pinned until the future fails
     * or the acquisition closes. Whatever ends the returned future early (cancel, the caller's own
     * {@code orTimeout}) ends the engine's with the same failure, which withdraws the waiter; a grant
     * that arrives too late is closed at once.
     */
    private CompletableFuture<Acquisition> async(K key, Request request, Duration timeoutOrNull) {
        Entry<K> e;
        try {
            e = pinned(key);
        } catch (LimitException | IllegalStateException failure) {
            return CompletableFuture.failedFuture(failure);
        }
        CompletableFuture<Acquisition> inner;
        try {
            inner = timeoutOrNull == null ? e.engine.acquireAsync(request) : e.engine.acquireAsync(request, timeoutOrNull);
        } catch (RuntimeException | Error failure) {
            unpin(e);
            throw failure;
        }
        CompletableFuture<Acquisition> outer = new CompletableFuture<>();
        inner.whenComplete((granted, failure) -> {
            if (failure != null) {
                unpin(e);
                outer.completeExceptionally(failure);
            } else {
                Held held = new Held(granted, e);
                if (!outer.complete(held)) {
                    held.close();
                }
            }
        });
        outer.whenComplete((granted, failure) -> {
            if (failure != null) {
                inner.completeExceptionally(failure);
            }
        });
        return outer;
    }

    @Override
    public Limiter forKey(K key) {
        return new KeyLimiter(checkKey(key));
    }

    @Override
    public LimitStats stats(K key) {
        Entry<K> e = entries.get(checkKey(key));
        if (e != null && e.word != RETIRED) {
            return e.engine.stats();
        }
        // Not held: what a fresh state reports (creating it would be a side effect).
        Map<String, LimitStats.KeyStats> keys = new LinkedHashMap<>();
        for (Limit limit : tierOf(key)) {
            keys.put(limit.key(), new LimitStats.KeyStats(limit.key(), limit, limit.capacity(), limit.capacity(), 0, 0,
                    0, 0));
        }
        return new LimitStats(keys, 0, 0, 0, 0, 0, 0, 0, 0);
    }

    @Override
    public KeyedStats keyedStats() {
        return new KeyedStats(entries.size(), created.sum(), evicted.sum(), refused.sum());
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        // Pairs with the check after a new entry is published (see create): one of the two sees the other.
        VarHandle.fullFence();
        for (Entry<K> e : entries.values()) {
            e.engine.close();
        }
        sweeping.lock();
        try {
            due.clear();
        } finally {
            sweeping.unlock();
        }
        stores.close();
    }

    @Override
    public String toString() {
        return "KeyedLimits[" + name + ", " + stores + ", " + template + (overrides.isEmpty() ? "" : ", "
                + overrides.size() + " overrides") + ", " + entries.size() + " keys]";
    }

    // ---- keys ----------------------------------------------------------------------------------------

    private K checkKey(K key) {
        if (key == null) {
            throw new NullPointerException("the key of keyed limits '" + name + "' must not be null");
        }
        if (key.getClass().isArray()) {
            throw new IllegalArgumentException("an array cannot be a key of keyed limits '" + name + "': arrays are"
                    + " equal only to themselves, so every call would make a new key; use a List or a String");
        }
        return key;
    }

    private List<Limit> tierOf(K key) {
        for (Tier<K> tier : overrides) {
            if (tier.applies().test(key)) {
                return tier.limits();
            }
        }
        return template;
    }

    private LimitSetDefinition definitionOf(K key) {
        List<Limit> tier = tierOf(key);
        if (configOf == null) {
            return shared.get(tier);
        }
        Map<String, String> own = configOf.apply(key);
        if (own == null) {
            throw new IllegalStateException("the config function of keyed limits '" + name + "' returned null for key "
                    + key + "; return Map.of() for none");
        }
        Specs.config(own);
        if (config.isEmpty()) {
            return new LimitSetDefinition(name, tier, own);
        }
        Map<String, String> merged = new HashMap<>(config);
        merged.putAll(own);
        return new LimitSetDefinition(name, tier, merged);
    }

    /** The entry of {@code key}, pinned; created if the key has none. */
    private Entry<K> pinned(K key) {
        Entry<K> e = entries.get(checkKey(key));
        if (e != null && pin(e)) {
            if (closed) {
                unpin(e);
                throw closedException();
            }
            return e;
        }
        return create(key);
    }

    private Entry<K> create(K key) {
        while (true) {
            if (closed) {
                throw closedException();
            }
            Entry<K> e = entries.get(key);
            if (e != null) {
                if (pin(e)) {
                    return e;
                }
                entries.remove(key, e);     // retired: help the sweeper take it out
                continue;
            }
            LimitSetDefinition definition = definitionOf(key);
            reserveSlot(key);
            Entry<K> fresh;
            try {
                fresh = open(key, definition);
            } catch (RuntimeException | Error failure) {
                slots.decrementAndGet();
                throw failure;
            }
            Entry<K> raced = entries.putIfAbsent(key, fresh);
            if (raced != null) {
                slots.decrementAndGet();
                fresh.engine.close();
                continue;
            }
            created.increment();
            VarHandle.fullFence();
            if (closed) {
                fresh.word = RETIRED;
                entries.remove(key, fresh);
                slots.decrementAndGet();
                fresh.engine.close();
                throw closedException();
            }
            return fresh;
        }
    }

    /** A new entry for {@code key}, pinned once by its creator. */
    private Entry<K> open(K key, LimitSetDefinition definition) {
        LimitStore store = stores.open(key, definition);
        LimitEngine engine;
        try {
            engine = new LimitEngine(definition, backend, store);
        } catch (RuntimeException | Error e) {
            store.close();
            throw e;
        }
        if (clock == null) {
            clock = store.clock();
        }
        return new Entry<>(key, engine);
    }

    /** Takes a slot for a new key; at the maximum, sweeps idle keys out first; refuses when none is idle. */
    private void reserveSlot(K key) {
        boolean swept = false;
        long soonest = Long.MAX_VALUE;
        while (true) {
            int held = slots.get();
            if (held < maxKeys) {
                if (slots.compareAndSet(held, held + 1)) {
                    return;
                }
                continue;
            }
            if (!swept) {
                soonest = sweep(true);
                swept = true;
                continue;
            }
            refused.increment();
            MonotonicClock c = clock;
            String hint = soonest < Long.MAX_VALUE && c != null
                    ? "; the first of its keys not in use will be idle in " + Duration.ofNanos(soonest - c.nanoTime())
                    : "";
            throw new TooManyKeysException("keyed limits '" + name + "' refused the new key " + key + ": it holds its"
                    + " maximum of " + maxKeys + " keys and none is idle (each still holds a permit, owes a debt, has a"
                    + " window still counting or an acquisition open; dropping one would make it more generous than its"
                    + " limits)" + hint + ". Raise maxKeys, or retry later");
        }
    }

    private IllegalStateException closedException() {
        return new IllegalStateException("KeyedLimits '" + name + "' is closed");
    }

    // ---- pins ----------------------------------------------------------------------------------------

    /** Pins {@code e} (bumping its version, clearing SEEN); false if it is retired. */
    private static boolean pin(Entry<?> e) {
        while (true) {
            long w = e.word;
            if (w == RETIRED) {
                return false;
            }
            if ((w & PINS) == PINS) {
                throw new IllegalStateException("key " + e.key + " has " + PINS + " acquisitions open or waiting;"
                        + " are acquisitions closed?");
            }
            long next = ((w & VERSION) + VERSION_UNIT & VERSION) | (w & QUEUED) | ((w & PINS) + 1);
            if (WORD.compareAndSet(e, w, next)) {
                return true;
            }
        }
    }

    /** Unpins {@code e}; the last unpin of a key the sweeper does not hold queues it to be examined. */
    private void unpin(Entry<K> e) {
        while (true) {
            long w = e.word;
            long pins = (w & PINS) - 1;
            boolean queue = pins == 0 && (w & QUEUED) == 0;
            long next = (w & ~PINS) | pins | (queue ? QUEUED : 0);
            if (WORD.compareAndSet(e, w, next)) {
                if (queue) {
                    release(e);
                }
                return;
            }
        }
    }

    private void release(Entry<K> e) {
        Entry<K> head;
        do {
            head = released.get();
            e.nextReleased = head;
        } while (!released.compareAndSet(head, e));
        if (head == null) {
            MonotonicClock c = clock;
            requestSweep(c, c.nanoTime() + tick);
        }
    }

    // ---- sweeping ------------------------------------------------------------------------------------

    /** Makes sure a sweep runs at {@code at} or earlier. */
    private void requestSweep(MonotonicClock c, long at) {
        while (true) {
            long current = nextSweepAt.get();
            if (current <= at) {
                return;
            }
            if (nextSweepAt.compareAndSet(current, at)) {
                // An earlier request superseded is not cancelled: its sweep finds less to do.
                c.wakeAt(at, c == MonotonicClock.system() ? () -> SWEEPS.execute(() -> sweep(false)) : () -> sweep(false));
                return;
            }
        }
    }

    /**
     * Examines the released keys and those due in the wheel. Under {@code pressure} (a new key at
     * {@code maxKeys}), also the keys waiting out their idle tick, and drops every idle one at once.
     * Returns the soonest instant at which a key it kept will be idle ({@link Long#MAX_VALUE}: none).
     */
    private long sweep(boolean pressure) {
        long soonest = Long.MAX_VALUE;
        sweeping.lock();
        try {
            nextSweepAt.set(Long.MAX_VALUE);
            MonotonicClock c = clock;
            if (closed || c == null) {
                return soonest;
            }
            long now = c.nanoTime();
            long upTo = Math.floorDiv(now, tick) + (pressure ? 1 : 0);
            List<List<Entry<K>>> buckets = new ArrayList<>();
            while (!due.isEmpty() && due.firstKey() <= upTo) {
                buckets.add(due.pollFirstEntry().getValue());
            }
            for (Entry<K> e = released.getAndSet(null); e != null; ) {
                Entry<K> next = e.nextReleased;
                e.nextReleased = null;
                soonest = Math.min(soonest, examine(e, now, pressure));
                e = next;
            }
            for (List<Entry<K>> bucket : buckets) {
                for (Entry<K> e : bucket) {
                    soonest = Math.min(soonest, examine(e, now, pressure));
                }
            }
            if (!due.isEmpty()) {
                requestSweep(c, due.firstKey() * tick);
            }
            if (released.get() != null) {
                requestSweep(c, now + tick);
            }
        } finally {
            sweeping.unlock();
        }
        return soonest;
    }

    /**
     * Decides one queued key: it leaves the wheel (pinned), is dropped, is marked seen, or is kept until
     * it is idle. Returns when a key kept will be idle ({@code now} if it is; {@link Long#MAX_VALUE}: not
     * kept).
     */
    private long examine(Entry<K> e, long now, boolean pressure) {
        while (true) {
            long w = e.word;
            if (w == RETIRED) {
                return Long.MAX_VALUE;
            }
            if ((w & PINS) != 0) {
                if (WORD.compareAndSet(e, w, w & ~(QUEUED | SEEN))) {
                    return Long.MAX_VALUE;
                }
                continue;
            }
            double idleIn = dropWhenUnused ? 0 : e.engine.idleIn();
            if (e.word != w) {
                continue;       // pinned meanwhile: what the engine said may be someone's acquisition in progress
            }
            if (idleIn > 0) {
                // Not idle yet: look again then. +Infinity, a permit held with no pin (a cancelled waiter's
                // grant being given back) or an engine closing, is looked at again one tick later.
                long at = idleIn < Long.MAX_VALUE - now ? now + (long) Math.ceil(idleIn) : now + tick;
                place(e, at);
                return at;
            }
            if (pressure || (w & SEEN) != 0) {
                if (WORD.compareAndSet(e, w, RETIRED)) {
                    drop(e);
                    return Long.MAX_VALUE;
                }
            } else if (WORD.compareAndSet(e, w, w | SEEN)) {
                place(e, now + tick);
                return now;
            }
        }
    }

    private void place(Entry<K> e, long at) {
        long index = at > Long.MAX_VALUE - tick ? Long.MAX_VALUE / tick : Math.ceilDiv(at, tick);
        due.computeIfAbsent(index, i -> new ArrayList<>()).add(e);
    }

    private void drop(Entry<K> e) {
        entries.remove(e.key, e);
        slots.decrementAndGet();
        evicted.increment();
        try {
            e.engine.close();
        } catch (RuntimeException failure) {
            log.warn("could not close the store of key {} of keyed limits '{}': {}", e.key, name, failure.toString());
        }
    }

    /** One key's engine and its word (see the class comment). */
    private static final class Entry<K> {
        final K key;
        final LimitEngine engine;
        /** Pins, QUEUED, SEEN and version; changed by compare-and-set through {@link #WORD}. */
        volatile long word = 1;
        /** The next key in the released stack; written before the push that publishes it. */
        Entry<K> nextReleased;

        Entry(K key, LimitEngine engine) {
            this.key = key;
            this.engine = engine;
        }
    }

    private static final VarHandle WORD;
    private static final VarHandle CLOSED;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            WORD = lookup.findVarHandle(Entry.class, "word", long.class);
            CLOSED = lookup.findVarHandle(KeyedFamily.Held.class, "closed", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    // ---- what users hold -----------------------------------------------------------------------------

    /** A key's grant: the engine's acquisition, which keeps its key pinned until closed. */
    private final class Held implements Acquisition {
        private final Acquisition granted;
        private final Entry<K> entry;
        private volatile int closed;

        Held(Acquisition granted, Entry<K> entry) {
            this.granted = granted;
            this.entry = entry;
        }

        @Override
        public Acquisition update(String key, double used) {
            granted.update(key, used);
            return this;
        }

        @Override
        public Acquisition update(Map<String, ? extends Number> usage) {
            granted.update(usage);
            return this;
        }

        @Override
        public Map<String, String> config() {
            return granted.config();
        }

        @Override
        public Map<String, Double> granted() {
            return granted.granted();
        }

        @Override
        public void close() {
            if (CLOSED.compareAndSet(this, 0, 1)) {
                try {
                    granted.close();
                } finally {
                    unpin(entry);
                }
            }
        }

        @Override
        public String toString() {
            return granted + " for key " + entry.key;
        }
    }

    /** {@link #forKey}: the family's acquisitions for one key, as a {@link Limiter}. */
    private final class KeyLimiter implements Limiter {
        private final K key;

        KeyLimiter(K key) {
            this.key = key;
        }

        @Override
        public Acquisition acquire(Request request) {
            return KeyedFamily.this.acquire(key, request);
        }

        @Override
        public Acquisition acquire(Request request, Duration timeout) {
            return KeyedFamily.this.acquire(key, request, timeout);
        }

        @Override
        public Optional<Acquisition> tryAcquire(Request request) {
            return KeyedFamily.this.tryAcquire(key, request);
        }

        @Override
        public Attempt attempt(Request request) {
            return KeyedFamily.this.attempt(key, request);
        }

        @Override
        public CompletableFuture<Acquisition> acquireAsync(Request request) {
            return KeyedFamily.this.acquireAsync(key, request);
        }

        @Override
        public CompletableFuture<Acquisition> acquireAsync(Request request, Duration timeout) {
            return KeyedFamily.this.acquireAsync(key, request, timeout);
        }

        @Override
        public LimitStats stats() {
            return KeyedFamily.this.stats(key);
        }

        @Override
        public String toString() {
            return "KeyedLimits[" + name + "] for key " + key;
        }
    }
}
