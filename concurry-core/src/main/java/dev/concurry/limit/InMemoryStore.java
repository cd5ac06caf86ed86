package dev.concurry.limit;

import dev.concurry.limit.spi.ArrayStore;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.ResolvedRequest;
import dev.concurry.limit.spi.SetAlgorithms;
import dev.concurry.time.MonotonicClock;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * The in-memory store (SPEC L16): the state in a plain array; the engine's lock is all the atomicity
 * one JVM needs (never {@code synchronized}, so virtual threads do not pin).
 *
 * <h2>Grants without the engine's lock</h2>
 * While nobody waits, every set also grants without the engine's lock, in one of two ways:
 * <ul>
 *   <li>{@link Fast#GCRA}, a single GCRA or token-bucket limit (a token bucket is run as GCRA): the
 *       whole state is one number, the theoretical arrival time, so a grant is one compare-and-set of
 *       its raw bits ({@link #fastWord}): lock-free, allocating nothing.</li>
 *   <li>{@link Fast#EXCLUSIVE}, every other set: {@link #fastWord} is a spin lock held only around
 *       {@link SetAlgorithms#tryGrant} (or the release of a grant's permits, {@link #releaseFast}) on
 *       {@link #state} itself, a few tens of nanoseconds (the clock is read before it is taken). Several
 *       limits are therefore taken all or nothing: no thread can see a request partly taken. It costs
 *       less than the engine's lock and its bookkeeping, and less than the lock-free alternative this
 *       store used before (an immutable copy of the state per grant and per release, installed by a
 *       compare-and-set), at one thread, two, and more threads than processors (BENCHMARKS.md, issue
 *       15). A grant that finds it held takes the locked path at once. Nothing that blocks runs while
 *       it is held, so virtual threads do not pin on it.</li>
 * </ul>
 * The locked path and the others never work on the state at the same time: while the engine holds its
 * lock, {@link #lock()} swaps the {@link #LOCKED} sentinel into the GCRA number, or takes the spin lock,
 * and works on {@link #state}; {@link #unlock} publishes the number or frees the spin lock. An attempt
 * without the lock that meets the sentinel or the spin lock held, or that the limits would refuse,
 * returns 0 and the engine takes the locked path, which decides every refusal, so waiters, fairness and
 * counters stay exact.
 *
 * <p>What a provider reported (SPEC F2–F4) lives in the state's feedback words: the exclusive path runs
 * the algorithms on the whole state and honours it; the one number of the GCRA path does not hold it,
 * so while a budget, a pause or an adopted limit acts on that limit every grant takes the locked path.
 *
 * <p>Footprint: a keyed family holds one store per key (SPEC L24), so the lock-free cells are fields
 * updated through {@link VarHandle}s rather than atomic objects of their own, and the stores of one
 * family share their {@link SetAlgorithms}.
 */
final class InMemoryStore extends ArrayStore {
    /** In {@link #fastWord} (GCRA) while the locked path owns the number (a NaN no arithmetic produces). */
    private static final long LOCKED = 0x7ff8_dead_beef_0001L;
    private static final int CAS_ATTEMPTS = 16;
    /** {@link Fast#EXCLUSIVE}: {@link #fastWord} while a thread works on {@link #state}. */
    private static final long HELD = 1;
    /** {@link Fast#EXCLUSIVE}: how long the locked path parks while a grant holds the spin lock. */
    private static final long HOLD_PARK_NANOS = 1_000;

    /** How this store grants without the engine's lock. */
    private enum Fast {
        GCRA, EXCLUSIVE
    }

    private final Fast fast;
    /**
     * {@link Fast#GCRA}: the raw bits of the theoretical arrival time; {@link Fast#EXCLUSIVE}: {@link #HELD}
     * while a thread works on {@link #state}, else 0 (one field for both keeps a keyed family's stores
     * small). Through {@link #WORD}.
     */
    private volatile long fastWord;
    private final int fastOffset;
    /** Clock reading until which provider feedback acts on the single GCRA limit (no lock-free grant). */
    private volatile long feedbackUntil = Long.MIN_VALUE;

    InMemoryStore(LimitSetDefinition definition, MonotonicClock clock) {
        this(new SetAlgorithms(definition.limits()), clock, clock.nanoTime());
    }

    /**
     * A store of {@code algorithms}' limits, fresh now, its time counted from {@code epoch}. The stores of
     * a keyed family share one {@link SetAlgorithms} and the family's epoch: fixed windows of every key
     * are then aligned alike, so a key dropped while idle and created again later has the very windows
     * it would have had (SPEC L24).
     */
    InMemoryStore(SetAlgorithms algorithms, MonotonicClock clock, long epoch) {
        super(algorithms, clock);
        this.epoch = epoch;
        algorithms.init(state, clock.nanoTime() - epoch);
        this.fastOffset = algorithms.offset(0);
        if (algorithms.singleGcra()) {
            this.fast = Fast.GCRA;
            this.fastWord = Double.doubleToRawLongBits(state[fastOffset]);
        } else {
            this.fast = Fast.EXCLUSIVE;
        }
    }

    @Override
    protected void lock() {
        if (fast == Fast.GCRA) {
            state[fastOffset] = Double.longBitsToDouble((long) WORD.getAndSet(this, LOCKED));
        } else {
            hold();
        }
    }

    /** Takes the {@link Fast#EXCLUSIVE} spin lock if it is free now (one compare-and-set). */
    private boolean tryHold() {
        return fastWord == 0 && WORD.compareAndSet(this, 0L, HELD);
    }

    /**
     * Takes the {@link Fast#EXCLUSIVE} spin lock for the engine's locked path. A grant holds it for a few
     * tens of nanoseconds, but while tries keep coming one of them often holds it: parking a moment
     * (rather than spinning) lets them run on without the state's cache lines moving between cores at
     * every grant. Measured with two threads trying at once (N1): 104-118 ns per grant parking at once,
     * 121-132 ns after a few spins, 160-480 ns spinning until free.
     */
    private void hold() {
        while (!tryHold()) {
            LockSupport.parkNanos(HOLD_PARK_NANOS);
        }
    }

    @Override
    protected void unlock(long touched, boolean freed) {
        if (fast == Fast.GCRA) {
            fastWord = Double.doubleToRawLongBits(state[fastOffset]);
        } else {
            WORD.setRelease(this, 0L);
        }
    }

    @Override
    public boolean hasFastPath() {
        return true;
    }

    @Override
    public long tryGrantFast(ResolvedRequest r) {
        if (fast == Fast.GCRA) {
            return r.size() == 1 ? tryGrantGcra(r.amount(0)) : 0;
        }
        long reading = clock().nanoTime();
        if (!tryHold()) {
            return 0;
        }
        try {
            return algorithms.tryGrant(state, nowFrom(reading), r);
        } finally {
            WORD.setRelease(this, 0L);
        }
    }

    private long tryGrantGcra(double n) {
        long t = clock().nanoTime();        // one clock read per attempt: it is a third of this path's cost
        if (t < feedbackUntil) {
            return 0;
        }
        for (int attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
            if (attempt > 0) {
                t = clock().nanoTime();
            }
            long bits = fastWord;
            if (bits == LOCKED) {
                return 0;
            }
            double next = algorithms.gcraGrant(0, Double.longBitsToDouble(bits), t - epoch, n);
            if (Double.isNaN(next)) {
                return 0;
            }
            if (WORD.compareAndSet(this, bits, Double.doubleToRawLongBits(next))) {
                // GCRA grants are never looked up by sequence number, but a provider's budget counts
                // only grants after its report's mark (>= 1): this one came before any such report.
                return 1;
            }
            // Another thread won: step aside briefly instead of spinning against it on the same line.
            LockSupport.parkNanos(1);
        }
        return 0;
    }

    /**
     * The engine calls it only while nobody waits, and checks again afterwards: a waiter refused just
     * before this release is decided again once it has queued (under the engine's lock, which takes the
     * spin lock after this release), and one that queued meanwhile makes the engine decide the queue.
     */
    @Override
    public boolean releaseFast(ResolvedRequest r, long seq) {
        if (fast == Fast.GCRA) {
            return false;       // a single rate limit: nothing to release
        }
        long reading = clock().nanoTime();
        if (!tryHold()) {
            return false;
        }
        try {
            algorithms.settle(state, nowFrom(reading), r, seq, null);
            return true;
        } finally {
            WORD.setRelease(this, 0L);
        }
    }

    @Override
    protected void observed() {
        if (fast == Fast.GCRA) {
            double end = algorithms.scaled(state, 0) ? Double.POSITIVE_INFINITY : algorithms.feedbackEnd(state, 0);
            feedbackUntil = end == Double.NEGATIVE_INFINITY
                    ? Long.MIN_VALUE
                    : end >= (double) Long.MAX_VALUE - epoch ? Long.MAX_VALUE : epoch + (long) Math.ceil(end);
        }
    }

    @Override
    public String describe() {
        return "in-memory";
    }

    @Override
    public void close() {
    }

    private static final VarHandle WORD;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            WORD = lookup.findVarHandle(InMemoryStore.class, "fastWord", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
