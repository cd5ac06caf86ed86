package dev.concurry.limit;

import dev.concurry.limit.spi.ArrayStore;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.ResolvedRequest;
import dev.concurry.limit.spi.SetAlgorithms;
import dev.concurry.time.MonotonicClock;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * The in-memory store (SPEC L16): the state in a plain array; the engine's lock is all the atomicity
 * one JVM needs (never {@code synchronized}, so virtual threads do not pin).
 *
 * <p>Lock-free grants. A set holding a single GCRA limit (the most common shape of a hot limiter)
 * also grants without the lock while nobody waits: GCRA's whole state is one number, the theoretical
 * arrival time, so a grant is one compare-and-set of it ({@link #fastTat}, raw double bits). The
 * locked path and the lock-free one never work on the number at the same time: the locked path swaps
 * {@link #LOCKED} into the cell while it works on the array and writes the result back before the
 * engine unlocks; a lock-free grant that sees {@code LOCKED}, or that the limit would refuse, takes the
 * locked path, which decides every refusal (waiters, fairness and counters stay exact).
 */
final class InMemoryStore extends ArrayStore {
    /** In {@link #fastTat} while the locked path owns the number (a NaN no arithmetic produces). */
    private static final long LOCKED = 0x7ff8_dead_beef_0001L;
    private static final int CAS_ATTEMPTS = 16;

    /** The GCRA number of a single-GCRA set, or null for every other shape. */
    private final AtomicLong fastTat;
    private final int fastOffset;

    InMemoryStore(LimitSetDefinition definition, MonotonicClock clock) {
        super(new SetAlgorithms(definition.limits()), clock);
        this.epoch = clock.nanoTime();
        algorithms.init(state, 0);
        boolean singleGcra = algorithms.singleGcra();
        this.fastOffset = algorithms.offset(0);
        this.fastTat = singleGcra ? new AtomicLong(Double.doubleToRawLongBits(state[fastOffset])) : null;
    }

    @Override
    protected void lock() {
        if (fastTat != null) {
            state[fastOffset] = Double.longBitsToDouble(fastTat.getAndSet(LOCKED));
        }
    }

    @Override
    protected void unlock(long touched, boolean freed) {
        if (fastTat != null) {
            fastTat.set(Double.doubleToRawLongBits(state[fastOffset]));
        }
    }

    @Override
    public boolean hasFastPath() {
        return fastTat != null;
    }

    @Override
    public long tryGrantFast(ResolvedRequest r) {
        if (fastTat == null || r.size() != 1) {
            return 0;
        }
        double n = r.amount(0);
        for (int attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
            long bits = fastTat.get();
            if (bits == LOCKED) {
                return 0;
            }
            double now = clock().nanoTime() - epoch;
            double next = algorithms.gcraGrant(0, Double.longBitsToDouble(bits), now, n);
            if (Double.isNaN(next)) {
                return 0;
            }
            if (fastTat.compareAndSet(bits, Double.doubleToRawLongBits(next))) {
                // Grants of a GCRA limit are never looked up by sequence number: any positive one will do.
                return Long.MAX_VALUE;
            }
            // Another thread won: step aside briefly instead of spinning against it on the same line.
            LockSupport.parkNanos(1);
        }
        return 0;
    }

    @Override
    public String describe() {
        return "in-memory";
    }

    @Override
    public void close() {
    }
}
