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
 * While nobody waits, every set also grants without the engine's lock, in one of three ways:
 * <ul>
 *   <li>{@link Fast#GCRA}, a single GCRA or token-bucket limit (a token bucket is run as GCRA): the
 *       whole state is one number, the theoretical arrival time, so a grant is one compare-and-set of
 *       its raw bits ({@link #fastWord}), allocating nothing.</li>
 *   <li>{@link Fast#SNAPSHOT}, any other set whose state is small (every limit but a sliding window:
 *       GCRA, token and leaky buckets, fixed windows, resource limits): the state is an immutable
 *       snapshot in {@link #fastState}; a grant computes the next snapshot with
 *       {@link SetAlgorithms#tryGrant} on a copy and installs it with one compare-and-set. Several limits
 *       are therefore taken all or nothing: no thread can see a request partly taken. Releasing a
 *       grant's permits works the same way ({@link #releaseFast}).</li>
 *   <li>{@link Fast#EXCLUSIVE}, a set with a sliding window (whose ring is too large to copy per grant)
 *       or of more than {@value #SNAPSHOT_WORDS} words: not lock-free, but {@link #fastWord} is a spin
 *       lock held only around {@link SetAlgorithms#tryGrant} (or a release) on {@link #state} itself, a
 *       few tens of nanoseconds (the clock is read before it is taken), cheaper than the engine's lock
 *       and its bookkeeping. A grant that finds it held takes the locked path at once. Nothing that
 *       blocks runs while it is held, so virtual threads do not pin on it.</li>
 * </ul>
 * The locked path and the others never work on the state at the same time: while the engine holds its
 * lock, {@link #lock()} swaps a sentinel into the cell ({@link #LOCKED} bits, or the
 * {@link #LOCKED_STATE} array) or takes the spin lock, and works on {@link #state}; {@link #unlock}
 * publishes the result. An attempt without the lock that meets the sentinel, or that the limits would
 * refuse, returns 0 and the engine takes the locked path, which decides every refusal, so waiters,
 * fairness and counters stay exact.
 *
 * <p>What a provider reported (SPEC F2–F4) lives in the state's feedback words: the snapshot path runs
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
    /** In {@link #fastState} while the locked path owns the state. */
    private static final double[] LOCKED_STATE = new double[0];
    private static final int CAS_ATTEMPTS = 16;
    /** {@link Fast#EXCLUSIVE}: {@link #fastWord} while a thread works on {@link #state}. */
    private static final long HELD = 1;
    /** {@link Fast#EXCLUSIVE}: how long the locked path parks while a grant holds the spin lock. */
    private static final long HOLD_PARK_NANOS = 1_000;
    /**
     * Sets whose state has at most this many words use the snapshot path (a copy per grant): up to
     * eight limits (a rate limit is 7 words with its provider feedback).
     */
    private static final int SNAPSHOT_WORDS = 64;

    /** How this store grants without the engine's lock. */
    private enum Fast {
        GCRA, SNAPSHOT, EXCLUSIVE
    }

    private final Fast fast;
    /**
     * {@link Fast#GCRA}: the raw bits of the theoretical arrival time; {@link Fast#EXCLUSIVE}: {@link #HELD}
     * while a thread works on {@link #state}, else 0 (one field for both keeps a keyed family's stores
     * small). Through {@link #WORD}.
     */
    private volatile long fastWord;
    private final int fastOffset;
    /** {@link Fast#SNAPSHOT}: the state as immutable snapshots (through {@link #STATE}). */
    private volatile double[] fastState;
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
        } else if (!algorithms.hasSlidingWindow() && state.length <= SNAPSHOT_WORDS) {
            this.fast = Fast.SNAPSHOT;
            this.fastState = state.clone();
        } else {
            this.fast = Fast.EXCLUSIVE;
        }
    }

    @Override
    protected void lock() {
        if (fast == Fast.GCRA) {
            state[fastOffset] = Double.longBitsToDouble((long) WORD.getAndSet(this, LOCKED));
        } else if (fast == Fast.SNAPSHOT) {
            double[] current = (double[]) STATE.getAndSet(this, LOCKED_STATE);
            System.arraycopy(current, 0, state, 0, state.length);
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
        } else if (fast == Fast.SNAPSHOT) {
            fastState = state.clone();
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
        if (fast == Fast.EXCLUSIVE) {
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
        for (int attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
            double[] current = fastState;
            if (current == LOCKED_STATE) {
                return 0;
            }
            double[] next = current.clone();
            long seq = algorithms.tryGrant(next, clock().nanoTime() - epoch, r);
            if (seq == 0) {
                return 0;
            }
            if (STATE.compareAndSet(this, current, next)) {
                return seq;
            }
            LockSupport.parkNanos(1);
        }
        return 0;
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
     * The engine calls it only while nobody waits, and checks again afterwards: a waiter that queued
     * meanwhile did so before this compare-and-set succeeded (its locked section ends by publishing
     * the snapshot this one replaced), so the engine then decides it under the lock.
     */
    @Override
    public boolean releaseFast(ResolvedRequest r, long seq) {
        if (fast == Fast.GCRA) {
            return false;
        }
        if (fast == Fast.EXCLUSIVE) {
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
        for (int attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
            double[] current = fastState;
            if (current == LOCKED_STATE) {
                return false;
            }
            double[] next = current.clone();
            algorithms.settle(next, clock().nanoTime() - epoch, r, seq, null);
            if (STATE.compareAndSet(this, current, next)) {
                return true;
            }
            LockSupport.parkNanos(1);
        }
        return false;
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
    private static final VarHandle STATE;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            WORD = lookup.findVarHandle(InMemoryStore.class, "fastWord", long.class);
            STATE = lookup.findVarHandle(InMemoryStore.class, "fastState", double[].class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
