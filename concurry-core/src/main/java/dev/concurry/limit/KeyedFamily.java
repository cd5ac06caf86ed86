package dev.concurry.limit;

import dev.concurry.limit.spi.FamilyStore;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;
import dev.concurry.limit.spi.LocalStore;
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
import java.util.function.BiFunction;
import java.util.function.Function;
import java.util.function.LongUnaryOperator;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A keyed family (SPEC L24): one {@link LimitEngine} per key in use, each over its own store from the
 * backend's {@link FamilyStore}. Everything a set does (queueing, waiting, timeouts, async, settling,
 * refusals, counters) is that engine's; this class only finds a key's engine, creates it on first use,
 * lets it go when the key is unused, and drops the key when dropping it changes nothing.
 *
 * <h2>A key's life</h2>
 * <ul>
 *   <li><b>active</b>: its {@link Entry} holds an engine over its store;</li>
 *   <li><b>dormant</b>: unused for a tick but its state still counts (a window, a debt): the entry keeps
 *       only the store, whose state is a few numbers, and drops the engine, which then holds nothing
 *       (no waiter, no grant); the next use builds an engine over the same store. Only for state that
 *       lives in the store (not {@link FamilyStore#stateOutlivesStore()});</li>
 *   <li><b>dropped</b>: unused for a tick and its state back to initial ({@link LocalStore#idleIn}), or for
 *       a store whose state lives elsewhere, merely unused for a tick: the entry leaves the map and its
 *       store is closed; the next use opens a fresh one, which admits exactly what the old one would.</li>
 * </ul>
 * The engine's counters (its {@link LimitStats}) start again with each engine.
 *
 * <h2>The word: no drop races an acquisition</h2>
 * Each entry has one word: how many users pin it (an acquisition in progress, a waiter, an open
 * acquisition), and flags. Every call into a key's engine runs pinned, and an acquisition stays pinned
 * until it is closed (its settlement may still refund or charge). {@link #BUSY} makes a few steps
 * exclusive: the sweeper takes it only from a word with no pin, and a pin waits while it is held, so
 * what the sweeper reads and does under it (is the state idle? drop the engine? retire the entry?) cannot
 * meet an acquisition; a user takes it to build the engine of a dormant key, so that a key never has two
 * engines. A {@link #RETIRED} entry is never pinned again: whoever finds one takes it out of the map and
 * creates a fresh entry. So no grant, held permit, debt or window is ever lost.
 *
 * <p>The one thing an engine does unpinned is give back a grant whose future was completed by someone
 * else first (an async acquisition cancelled, or timed out by the caller, as it was granted): that only
 * frees units, and on a state back to initial changes nothing, so dropping the key is still exact; but
 * the engine must stay the only one over its store, so such a key keeps its engine ({@link #KEEP}) until
 * it is dropped.
 *
 * <h2>Sweeping: no scan of all keys</h2>
 * The last unpin of a key that is not queued ({@link #QUEUED}) pushes it on a lock-free stack of
 * released keys; the sweeper examines each, then keeps it in a bucket of a time wheel ({@link #due}).
 * The first examination marks it {@link #SEEN} and looks again one tick later; any use clears the mark.
 * Found still marked (unused for a tick), the key is dropped if idle, else made dormant and looked at
 * again when its state will be idle, and dropped then if still unused. A key pinned when examined
 * leaves the wheel; its last unpin queues it again. Sweeps run on clock wake-ups, only when something is
 * due, off the timer thread with the system clock (inline with a test's manual clock, so that timing is
 * exact). A new key beyond {@code maxKeys} runs a sweep at once that drops every idle unpinned key
 * without waiting for a tick.
 */
final class KeyedFamily<K> implements KeyedLimits<K> {
    private static final Logger log = LoggerFactory.getLogger(KeyedFamily.class);
    private static final Executor SWEEPS = Executors.newVirtualThreadPerTaskExecutor();

    // The word of an entry: PINS in bits 0-28, then the flags.
    private static final long PINS = 0x1fff_ffffL;
    /** Held for a few exclusive steps (see the class comment); a pin waits while it is set. */
    private static final long BUSY = 1L << 29;
    /** The key keeps its engine until dropped (see the class comment). */
    private static final long KEEP = 1L << 30;
    /** In the released stack or the wheel: the sweeper will examine it. */
    private static final long QUEUED = 1L << 31;
    /** Found unpinned by the sweeper; any use clears it. */
    private static final long SEEN = 1L << 32;
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
    /** Whether an unused key whose state still counts drops its engine and keeps only its store. */
    private final boolean dormancy;
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
        this.dormancy = !dropWhenUnused;
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
        return new Held(call(e, request, LimitEngine::acquire), e);
    }

    @Override
    public Acquisition acquire(K key, Request request, Duration timeout) {
        Entry<K> e = pinned(key);
        return new Held(call(e, request, (engine, r) -> engine.acquire(r, timeout)), e);
    }

    @Override
    public Optional<Acquisition> tryAcquire(K key, Request request) {
        Entry<K> e = pinned(key);
        Acquisition granted = call(e, request, TRY);
        if (granted == null) {
            unpin(e);
            return Optional.empty();
        }
        return Optional.of(new Held(granted, e));
    }

    @Override
    public Attempt attempt(K key, Request request) {
        Entry<K> e = pinned(key);
        Attempt attempt = call(e, request, LimitEngine::attempt);
        if (attempt instanceof Attempt.Granted granted) {
            return new Attempt.Granted(new Held(granted.acquisition(), e));
        }
        unpin(e);
        return attempt;
    }

    private static final BiFunction<LimitEngine, Request, Acquisition> TRY = (engine, r) -> engine.tryAcquire(r)
            .orElse(null);

    /**
     * {@code call} of {@code request} on pinned {@code e}'s engine; if it throws, {@code e} is unpinned.
     * (The request is an argument so that the hot forms pass a lambda that captures nothing.)
     */
    private <R> R call(Entry<K> e, Request request, BiFunction<LimitEngine, Request, R> call) {
        try {
            return call.apply(engineOf(e), request);
        } catch (RuntimeException | Error failure) {
            unpin(e);
            throw failure;
        }
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
     * {@code orTimeout}) ends the engine's with the same failure, which withdraws the waiter (and counts
     * a timeout as one); a grant that arrives too late is closed at once.
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
            LimitEngine engine = engineOf(e);
            inner = timeoutOrNull == null ? engine.acquireAsync(request) : engine.acquireAsync(request, timeoutOrNull);
        } catch (LimitException | IllegalStateException failure) {
            unpin(e);
            return CompletableFuture.failedFuture(failure);
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
            if (failure != null && !inner.isDone()) {
                keepEngine(e);     // the engine may give back a grant after this (see the class comment)
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
        if (e != null && pin(e, false)) {
            try {
                return engineOf(e).stats();
            } finally {
                unpin(e);
            }
        }
        // Not held: what a fresh state reports (creating it would be a side effect).
        Map<String, LimitStats.KeyStats> keys = new LinkedHashMap<>();
        for (Limit limit : tierOf(key)) {
            keys.put(limit.key(), new LimitStats.KeyStats(limit.key(), limit, limit.capacity(), limit.capacity(), 0, 0,
                    0, 0, ProviderFeedback.NONE));
        }
        return new LimitStats(keys, 0, 0, 0, 0, 0, 0, 0, 0, LimitStats.ProviderCounts.NONE);
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
        sweeping.lock();
        try {
            for (Entry<K> e : entries.values()) {
                if (!busy(e)) {
                    continue;       // retired: whoever dropped it closes it
                }
                // Read under BUSY: an engine being built for it now either came first or sees closed.
                LimitEngine engine = e.engine;
                notBusy(e);
                if (engine != null) {
                    engine.close();
                } else {
                    e.store.close();
                }
            }
            due.clear();
        } finally {
            sweeping.unlock();
        }
        stores.close();
    }

    @Override
    public String toString() {
        return "KeyedLimits[" + name + ", " + stores + ", " + template + (overrides.isEmpty()
                ? ""
                : ", "
                        + overrides.size() + " overrides")
                + ", " + entries.size() + " keys]";
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
        if (e == null || !pin(e, true)) {
            e = create(key);
        }
        if (closed) {
            unpin(e);
            throw closedException();
        }
        return e;
    }

    private Entry<K> create(K key) {
        while (true) {
            if (closed) {
                throw closedException();
            }
            Entry<K> e = entries.get(key);
            if (e != null) {
                if (pin(e, true)) {
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

    /** A new entry for {@code key}, active and pinned once by its creator. */
    private Entry<K> open(K key, LimitSetDefinition definition) {
        LimitStore store = stores.open(key, definition);
        LimitEngine engine;
        try {
            engine = new LimitEngine(definition, backend, store, false);
        } catch (RuntimeException | Error e) {
            store.close();
            throw e;
        }
        if (clock == null) {
            clock = store.clock();
        }
        return new Entry<>(key, definition, store, engine);
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

    // ---- the word -------------------------------------------------------------------------------------

    /**
     * Pins {@code e}, waiting while it is {@link #BUSY}; false if it is retired. A use clears
     * {@link #SEEN}; a look ({@code use} false, for stats) leaves it, so that looking keeps no key.
     */
    private static boolean pin(Entry<?> e, boolean use) {
        return change(e, use ? USE : LOOK, true);
    }

    private static final LongUnaryOperator USE = w -> (w & ~SEEN) + 1;
    private static final LongUnaryOperator LOOK = w -> w + 1;
    private static final LongUnaryOperator TAKE_BUSY = w -> w | BUSY;

    /** Changes the word of {@code e} by {@code next}, waiting while it is {@link #BUSY}; false if retired. */
    private static boolean change(Entry<?> e, LongUnaryOperator next, boolean pinning) {
        for (int spins = 0;; spins++) {
            long w = e.word;
            if (w == RETIRED) {
                return false;
            }
            if ((w & BUSY) != 0) {
                backOff(spins);
                continue;
            }
            if (pinning && (w & PINS) == PINS) {
                throw new IllegalStateException("key " + e.key + " has " + PINS + " acquisitions open or waiting;"
                        + " are acquisitions closed?");
            }
            if (WORD.compareAndSet(e, w, next.applyAsLong(w))) {
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

    /** Takes {@link #BUSY} (whatever the pins), waiting while another holds it; false if retired. */
    private static boolean busy(Entry<?> e) {
        return change(e, TAKE_BUSY, false);
    }

    private static void notBusy(Entry<?> e) {
        long w;
        do {
            w = e.word;
        } while (!WORD.compareAndSet(e, w, w & ~BUSY));
    }

    private static void backOff(int spins) {
        if (spins < 100) {
            Thread.onSpinWait();
        } else {
            Thread.yield();
        }
    }

    /** The engine of pinned {@code e}, built over its store if it is dormant (once, under BUSY). */
    private LimitEngine engineOf(Entry<K> e) {
        LimitEngine engine = e.engine;
        if (engine != null) {
            return engine;
        }
        busy(e);
        try {
            if (closed) {
                throw closedException();
            }
            if (e.engine == null) {
                e.engine = new LimitEngine(e.definition, backend, e.store, false);
            }
            return e.engine;
        } finally {
            notBusy(e);
        }
    }

    /** Pinned {@code e} keeps its engine until it is dropped (see the class comment). */
    private static void keepEngine(Entry<?> e) {
        long w;
        do {
            w = e.word;
        } while ((w & KEEP) == 0 && !WORD.compareAndSet(e, w, w | KEEP));
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
                c.wakeAt(at,
                        c == MonotonicClock.system() ? () -> SWEEPS.execute(() -> sweep(false)) : () -> sweep(false));
                return;
            }
        }
    }

    /**
     * Examines the released keys and those due in the wheel. Under {@code pressure} (a new key at
     * {@code maxKeys}), also the keys marked in the last tick, and drops every idle one at once, used
     * lately or not. (A key placed further out, at the instant its state becomes idle, and whose state
     * a refund made idle sooner, is found only when the wheel reaches it.)
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
            // Under pressure, also the keys marked in the last tick (placed a tick after their mark): any
            // of them may be idle now. Keys further out were placed at the instant they become idle.
            long upTo = Math.floorDiv(now, tick) + (pressure ? 2 : 0);
            List<List<Entry<K>>> buckets = new ArrayList<>();
            while (!due.isEmpty() && due.firstKey() <= upTo) {
                buckets.add(due.pollFirstEntry().getValue());
            }
            for (Entry<K> e = released.getAndSet(null); e != null;) {
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
     * Decides one queued key (see the class comment): it leaves the wheel (pinned), is marked, made
     * dormant or dropped. Returns when it will be idle ({@link Long#MAX_VALUE}: not kept, or unknown).
     */
    private long examine(Entry<K> e, long now, boolean pressure) {
        long w;
        while (true) {
            w = e.word;
            if (w == RETIRED) {
                return Long.MAX_VALUE;
            }
            if ((w & PINS) != 0) {
                if (WORD.compareAndSet(e, w, w & ~(QUEUED | SEEN))) {
                    return Long.MAX_VALUE;
                }
            } else if ((w & BUSY) == 0 && WORD.compareAndSet(e, w, w | BUSY)) {
                break;
            }
        }
        // BUSY with no pin: nobody uses the key until the word is written below.
        double idleIn = idleIn(e);
        boolean unused = (w & SEEN) != 0;
        if (idleIn <= 0 && (unused || pressure)) {
            e.word = RETIRED;
            drop(e);
            return Long.MAX_VALUE;
        }
        long idleAt = idleIn < Long.MAX_VALUE - now ? now + (long) Math.ceil(idleIn) : Long.MAX_VALUE;
        if (!unused) {
            e.word = w | SEEN;
            place(e, now + tick);
        } else {
            if ((w & KEEP) == 0 && dormancy && e.store instanceof LocalStore) {
                e.engine = null;
            }
            e.word = w;
            // +Infinity (a permit held with no pin: a grant being given back) is looked at again a tick later.
            place(e, idleAt == Long.MAX_VALUE ? now + tick : idleAt);
        }
        return idleAt;
    }

    /** Nanoseconds until {@code e}'s state is idle; for a store whose state lives elsewhere, 0. Under BUSY. */
    private double idleIn(Entry<K> e) {
        if (dropWhenUnused) {
            return 0;
        }
        LimitEngine engine = e.engine;
        if (engine != null) {
            return engine.idleIn();
        }
        return e.store instanceof LocalStore local ? local.idleIn() : Double.POSITIVE_INFINITY;
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
            LimitEngine engine = e.engine;
            if (engine != null) {
                engine.close();
            } else {
                e.store.close();
            }
        } catch (RuntimeException failure) {
            log.warn("could not close the store of key {} of keyed limits '{}': {}", e.key, name, failure.toString());
        }
    }

    /** One key: its store, its engine while active, and its word (see the class comment). */
    private static final class Entry<K> {
        final K key;
        final LimitSetDefinition definition;
        final LimitStore store;
        /** Null while dormant; set (by a user) and cleared (by the sweeper) only under BUSY. */
        volatile LimitEngine engine;
        /** Pins and flags; changed by compare-and-set through {@link #WORD}. */
        volatile long word = 1;
        /** The next key in the released stack; written before the push that publishes it. */
        Entry<K> nextReleased;

        Entry(K key, LimitSetDefinition definition, LimitStore store, LimitEngine engine) {
            this.key = key;
            this.definition = definition;
            this.store = store;
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
        public Acquisition observe(ProviderReport report) {
            granted.observe(report);
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
