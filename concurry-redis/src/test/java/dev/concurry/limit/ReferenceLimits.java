package dev.concurry.limit;

import java.util.List;

/**
 * The in-memory backend's decision procedure, exposed to the Redis differential test: the same
 * {@link LimitMath} calls in the same order as {@code InMemoryLimitSet} (state initialised at time 0,
 * one sequence number per grant), plus the wait time, which the public API does not show.
 */
public final class ReferenceLimits {
    private final LimitMath[] math;
    private final double[] state;
    private long sequence;

    public ReferenceLimits(List<Limit> specs) {
        math = new LimitMath[specs.size()];
        int size = 0;
        for (int i = 0; i < math.length; i++) {
            math[i] = new LimitMath(specs.get(i), size);
            size += math[i].stateSize();
        }
        state = new double[size];
        for (LimitMath m : math) {
            m.init(state, 0);
        }
    }

    /** 0 after committing the grant (its sequence number is {@link #lastSequence()}), or the nanoseconds to wait. */
    public double tryAcquire(int[] limits, double[] amounts, double now) {
        double wait = 0;
        for (int j = 0; j < limits.length; j++) {
            wait = Math.max(wait, math[limits[j]].waitTime(state, now, amounts[j]));
        }
        if (wait > 0) {
            return wait;
        }
        long seq = ++sequence;
        for (int j = 0; j < limits.length; j++) {
            math[limits[j]].commit(state, now, amounts[j], seq);
        }
        return 0;
    }

    public long lastSequence() {
        return sequence;
    }

    public void settle(int limit, double now, double grantTime, long seq, double granted, double used) {
        math[limit].settle(state, now, grantTime, seq, sequence, granted, used);
    }

    public void release(int limit, double n) {
        math[limit].release(state, n);
    }

    public double available(int limit, double now) {
        return math[limit].available(state, now);
    }

    public double inUse(int limit, double now) {
        return math[limit].inUse(state, now);
    }
}
