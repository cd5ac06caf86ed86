package dev.concurry.limit;

import dev.concurry.time.MonotonicClock;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The in-memory backend (SPEC L16): the {@link LimitEngine} with its state in a plain array guarded by
 * one {@link ReentrantLock} per set (never {@code synchronized}, so virtual threads do not pin).
 *
 * <p>Lock-free grants. A set holding a single GCRA limit (the most common shape of a hot limiter)
 * also grants without the lock while nobody waits: GCRA's whole state is one number, the theoretical
 * arrival time, so a grant is one compare-and-set of it ({@link #fastTat}, raw double bits). The
 * locked path and the lock-free one never work on the number at the same time: whoever takes the lock
 * swaps {@link #LOCKED} into the cell and works on the state array, and writes the result back to the
 * cell before unlocking; a lock-free grant that sees {@code LOCKED}, or that the limit would refuse,
 * takes the locked path, which decides every refusal (waiters, fairness and counters stay exact).
 */
final class InMemoryLimitSet extends LimitEngine {
    /** In {@link #fastTat} while the lock holder owns the number (a NaN no arithmetic produces). */
    private static final long LOCKED = 0x7ff8_dead_beef_0001L;
    private static final int CAS_ATTEMPTS = 16;

    private final ReentrantLock lock = new ReentrantLock();
    /** The GCRA number of a single-GCRA set, or null for every other shape. */
    private final AtomicLong fastTat;
    private final LimitMath fastMath;
    private final LongAdder fastGranted = new LongAdder();
    /** Nobody is queued and the set is open; written under the lock, read by lock-free grants. */
    private volatile boolean fastOpen;

    InMemoryLimitSet(LimitSetDefinition definition, MonotonicClock clock, LimitBackend backend) {
        super(definition, clock, backend, META);
        this.epoch = clock.nanoTime();
        for (LimitMath m : math) {
            m.init(state, 0);
        }
        boolean singleGcra = math.length == 1 && math[0].kind == LimitMath.Kind.GCRA;
        this.fastMath = singleGcra ? math[0] : null;
        this.fastTat = singleGcra ? new AtomicLong(Double.doubleToRawLongBits(state[math[0].offset])) : null;
        this.fastOpen = singleGcra;
    }

    @Override
    void lockState() {
        lock.lock();
        if (fastTat != null && lock.getHoldCount() == 1) {
            state[fastMath.offset] = Double.longBitsToDouble(fastTat.getAndSet(LOCKED));
        }
    }

    @Override
    void unlockState() {
        if (fastTat != null && lock.getHoldCount() == 1) {
            fastOpen = mayGrantWithoutLockLocked();
            fastTat.set(Double.doubleToRawLongBits(state[fastMath.offset]));
        }
        lock.unlock();
    }

    @Override
    Acquisition tryGrantFast(Prepared p) {
        if (fastTat == null || !fastOpen || p.limits.length != 1) {
            return null;
        }
        double n = p.amounts[0];
        for (int attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
            long bits = fastTat.get();
            if (bits == LOCKED) {
                return null;
            }
            double now = now();
            double next = fastMath.gcraGrant(Double.longBitsToDouble(bits), now, n);
            if (Double.isNaN(next)) {
                return null;
            }
            if (fastTat.compareAndSet(bits, Double.doubleToRawLongBits(next))) {
                fastGranted.increment();
                return fastGrant(p, now);
            }
            // Another thread won: step aside briefly instead of spinning against it on the same line.
            LockSupport.parkNanos(1);
        }
        return null;
    }

    @Override
    long fastGrants() {
        return fastGranted.sum();
    }
}
