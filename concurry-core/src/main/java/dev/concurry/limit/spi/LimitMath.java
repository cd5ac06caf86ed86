package dev.concurry.limit.spi;

import dev.concurry.limit.CallLimit;
import dev.concurry.limit.Limit;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.ResourceLimit;

/**
 * The algorithms of SPEC L5 as pure math over a few doubles (SPEC "central idea"): given the state,
 * the time and an amount, say whether it can be granted now or how long to wait; commit a grant;
 * settle a grant to its actual usage. No locks, no clock, no I/O: a backend supplies atomicity,
 * storage and time. Times are nanoseconds since the backend's epoch, as doubles.
 *
 * <p>Conventions. A rate limit of capacity C per window W has {@code per = W / C} nanoseconds per
 * unit. Comparisons allow {@link #TOLERANCE} × C units of rounding error, so that a waiter woken at the
 * computed instant is granted. Overuse may drive the state into debt (negative tokens, a theoretical
 * arrival time in the future, a window count above capacity): later requests then wait longer.
 *
 * <p>State layouts, at {@code offset} in the set's state array:
 * <ul>
 *   <li>GCRA, LEAKY_BUCKET: theoretical arrival time (TAT): when everything granted has drained.
 *       TOKEN_BUCKET is stored and run as GCRA: a bucket holding {@code capacity - (TAT - now) / per}
 *       tokens admits, refunds and charges exactly what GCRA does (SPEC L5), and one number lets the
 *       in-memory store grant it lock-free.</li>
 *   <li>FIXED_WINDOW: index of the current window, units counted in it, sequence number of the first
 *       grant counted in it (a refund applies only to a grant of the current window).</li>
 *   <li>SLIDING_WINDOW: a ring of {@value #SW_RING} grants (time, units, sequence number), whatever
 *       the capacity and the amounts (SPEC L6). Header: head, size, units in the ring, sequence number
 *       of the last entry that expired. Until the ring is full every acquisition has its own entry
 *       and the window is exact. A full ring is compacted: neighbours that fall in one cell of a grid
 *       of step {@code 2 × window / SW_RING} merge into the later of them. Merged units only leave the
 *       window later than they would have (conservative: never over-admits), by less than one cell,
 *       {@code window / 256}. The entries still alive span less than a window, so at most
 *       {@code SW_RING / 2 + 1} cells remain and about half the ring is freed: compaction costs O(1)
 *       per grant, amortised. A client refused now was granted at least capacity minus its request in
 *       the last window plus one cell, so a saturating client keeps about 256/257 (99.6%) of capacity
 *       however many grants a window holds.</li>
 *   <li>Resource limits: permits held.</li>
 * </ul>
 */
final class LimitMath {
    /** Relative rounding tolerance: 1e-12 of capacity (a waiter woken at its computed instant is granted). */
    static final double TOLERANCE = 1e-12;
    private static final int SW_HEADER = 4;
    private static final int SW_ENTRY = 3;
    /** Entries in a sliding window's ring: 4 + 3 × 512 doubles = 12,320 bytes of state per limit. */
    static final int SW_RING = 512;

    enum Kind { LEAKY_BUCKET, SLIDING_WINDOW, FIXED_WINDOW, GCRA, RESOURCE }

    final Kind kind;
    final double capacity;
    final double window;
    final double per;
    final double tolerance;
    /** Ring size of a sliding window (entries). */
    final int ring;
    /** A sliding window's merge grid: entries in one cell of this many nanoseconds may merge. */
    final double cell;
    final int offset;

    LimitMath(Limit limit, int offset) {
        this.offset = offset;
        this.capacity = limit.capacity();
        this.tolerance = TOLERANCE * Math.max(1.0, capacity);
        switch (limit) {
            case RateLimit rate -> {
                this.kind = kindOf(rate.algorithm());
                this.window = rate.window().toNanos();
            }
            case CallLimit call -> {
                this.kind = kindOf(call.algorithm());
                this.window = call.window().toNanos();
            }
            case ResourceLimit ignored -> {
                this.kind = Kind.RESOURCE;
                this.window = 0;
            }
        }
        this.per = window / capacity;
        this.ring = kind == Kind.SLIDING_WINDOW ? SW_RING : 0;
        this.cell = kind == Kind.SLIDING_WINDOW ? 2 * window / SW_RING : 0;
    }

    private static Kind kindOf(RateAlgorithm algorithm) {
        return switch (algorithm) {
            case TOKEN_BUCKET, GCRA -> Kind.GCRA;
            case LEAKY_BUCKET -> Kind.LEAKY_BUCKET;
            case SLIDING_WINDOW -> Kind.SLIDING_WINDOW;
            case FIXED_WINDOW -> Kind.FIXED_WINDOW;
        };
    }

    /** How many doubles of state this limit needs. */
    int stateSize() {
        return switch (kind) {
            case FIXED_WINDOW -> 3;
            case LEAKY_BUCKET, GCRA, RESOURCE -> 1;
            case SLIDING_WINDOW -> SW_HEADER + SW_ENTRY * ring;
        };
    }

    boolean isResource() {
        return kind == Kind.RESOURCE;
    }

    /** Initial state at time {@code now}: buckets full, windows empty, no permit held. */
    void init(double[] s, double now) {
        int o = offset;
        switch (kind) {
            case LEAKY_BUCKET, GCRA -> s[o] = now;
            case FIXED_WINDOW -> {
                s[o] = Math.floor(now / window);
                s[o + 1] = 0;
                s[o + 2] = 0;
            }
            case SLIDING_WINDOW -> {
                s[o] = 0;
                s[o + 1] = 0;
                s[o + 2] = 0;
                s[o + 3] = -1;
            }
            case RESOURCE -> s[o] = 0;
        }
    }

    /**
     * 0 if {@code n} units can be granted at {@code now}; else the nanoseconds to wait if nothing else
     * changes; {@code +Infinity} for a resource, which only a release can free. May normalise the
     * state (expire old entries) without changing its meaning.
     */
    double waitTime(double[] s, double now, double n) {
        if (n == 0) {
            return 0;
        }
        int o = offset;
        return switch (kind) {
            case GCRA -> {
                double excess = Math.max(s[o], now) + n * per - now - window;
                yield excess <= tolerance * per ? 0 : excess;
            }
            case LEAKY_BUCKET -> {
                double behind = s[o] - now;
                yield behind <= tolerance * per ? 0 : behind;
            }
            case FIXED_WINDOW -> {
                double index = Math.floor(now / window);
                double count = s[o] == index ? s[o + 1] : 0;
                yield count + n <= capacity + tolerance ? 0 : (index + 1) * window - now;
            }
            case SLIDING_WINDOW -> slidingWait(s, now, n);
            case RESOURCE -> s[o] + n <= capacity ? 0 : Double.POSITIVE_INFINITY;
        };
    }

    /**
     * GCRA only, for a lock-free grant: the theoretical arrival time after granting {@code n} units at
     * {@code now} from {@code tat}, or NaN when {@link #waitTime} would not grant them now. The same
     * formulas as {@link #waitTime} and {@link #commit}, on the one number GCRA keeps.
     */
    double gcraGrant(double tat, double now, double n) {
        double next = Math.max(tat, now) + n * per;
        return next - now - window <= tolerance * per ? next : Double.NaN;
    }

    /** Takes {@code n} units at {@code now}; {@code seq} identifies the grant for a later settle. */
    void commit(double[] s, double now, double n, long seq) {
        int o = offset;
        switch (kind) {
            case GCRA -> s[o] = Math.max(s[o], now) + n * per;
            // A waiter wakes at the first whole nanosecond at or after the drain instant; counting from
            // the drain instant itself keeps the grid exact, so fractional progress is never lost.
            case LEAKY_BUCKET -> s[o] = (s[o] >= now - 1 ? s[o] : now) + n * per;
            case FIXED_WINDOW -> {
                rollWindow(s, now, seq);
                s[o + 1] += n;
            }
            case SLIDING_WINDOW -> {
                if (n > 0) {
                    slidingAppend(s, now, n, seq);
                }
            }
            case RESOURCE -> s[o] += n;
        }
    }

    /**
     * Settles grant {@code seq} of {@code granted} units to the {@code used} units really used: refunds
     * the difference or charges the overuse. {@code lastSeq} is the newest sequence number issued (an
     * overuse is counted as if granted now).
     */
    void settle(double[] s, double now, long seq, long lastSeq, double granted, double used) {
        double refund = granted - used;
        if (refund == 0) {
            return;
        }
        int o = offset;
        switch (kind) {
            case GCRA, LEAKY_BUCKET -> {
                if (refund > 0) {
                    if (s[o] > now) {
                        s[o] = Math.max(now, s[o] - refund * per);
                    }
                } else {
                    s[o] = Math.max(s[o], now) - refund * per;
                }
            }
            case FIXED_WINDOW -> {
                if (refund > 0) {
                    // Only a grant of the current window can be refunded: a past window is gone.
                    if (s[o] == Math.floor(now / window) && seq >= s[o + 2]) {
                        s[o + 1] = Math.max(0, s[o + 1] - refund);
                    }
                } else {
                    rollWindow(s, now, lastSeq + 1);
                    s[o + 1] -= refund;
                }
            }
            case SLIDING_WINDOW -> slidingSettle(s, now, seq, lastSeq, refund);
            case RESOURCE -> throw new IllegalStateException("a resource limit is released, not settled");
        }
    }

    /** Gives back {@code n} permits of a resource limit. */
    void release(double[] s, double n) {
        s[offset] = Math.max(0, s[offset] - n);
    }

    /** Units that could be granted at {@code now}, without changing the state (negative in debt). */
    double available(double[] s, double now) {
        return capacity - inUse(s, now);
    }

    /** Units counted against the limit at {@code now} (permits held, for a resource); no side effect. */
    double inUse(double[] s, double now) {
        int o = offset;
        return switch (kind) {
            case GCRA, LEAKY_BUCKET -> Math.max(0, s[o] - now) / per;
            case FIXED_WINDOW -> s[o] == Math.floor(now / window) ? s[o + 1] : 0;
            case SLIDING_WINDOW -> {
                double sum = 0;
                int head = (int) s[o];
                int size = (int) s[o + 1];
                for (int i = 0; i < size; i++) {
                    int e = entry(head, i);
                    if (s[e] + window > now) {
                        sum += s[e + 1];
                    }
                }
                yield sum;
            }
            case RESOURCE -> s[o];
        };
    }


    /**
     * Nanoseconds from {@code now} until this limit's state admits, refunds and charges exactly what a
     * fresh state ({@link #init}) would, if nothing else happens: 0 when it already does;
     * {@code +Infinity} while a resource permit is held (only a release frees it). No side effect.
     * A keyed family drops a key's state only then (SPEC L24); a distributed store can expire it then.
     */
    double idleIn(double[] s, double now) {
        int o = offset;
        return switch (kind) {
            // Both max(TAT, now): a TAT in the past is the fresh state.
            case GCRA -> Math.max(0, s[o] - now);
            // A commit counts from a TAT up to 1 ns old (no lost fractional drain), so the state is
            // fresh only once now is more than 1 ns past it.
            case LEAKY_BUCKET -> s[o] + 1 < now ? 0 : s[o] + 2 - now;
            case FIXED_WINDOW -> s[o] == Math.floor(now / window) && s[o + 1] != 0 ? (s[o] + 1) * window - now : 0;
            case SLIDING_WINDOW -> {
                // Every entry still in the window counts (a refunded one with 0 units too: it still
                // shapes the ring), so the state is fresh once the newest has left.
                double last = Double.NEGATIVE_INFINITY;
                int head = (int) s[o];
                int size = (int) s[o + 1];
                for (int i = 0; i < size; i++) {
                    last = Math.max(last, s[entry(head, i)]);
                }
                yield Math.max(0, last + window - now);
            }
            case RESOURCE -> s[o] > 0 ? Double.POSITIVE_INFINITY : 0;
        };
    }

    /** Moves to the window of {@code now}; {@code firstSeq} is the first grant counted in a new one. */
    private void rollWindow(double[] s, double now, long firstSeq) {
        double index = Math.floor(now / window);
        if (s[offset] != index) {
            s[offset] = index;
            s[offset + 1] = 0;
            s[offset + 2] = firstSeq;
        }
    }

    // ---- sliding window ring -------------------------------------------------------------------

    private int entry(int head, int i) {
        return offset + SW_HEADER + SW_ENTRY * ((head + i) % ring);
    }

    /** Drops entries whose window has passed: a grant at t counts in [t, t + window). */
    private void expire(double[] s, double now) {
        int o = offset;
        int head = (int) s[o];
        int size = (int) s[o + 1];
        double sum = s[o + 2];
        while (size > 0) {
            int e = entry(head, 0);
            if (s[e] + window > now) {
                break;
            }
            sum -= s[e + 1];
            s[o + 3] = s[e + 2];
            head = (head + 1) % ring;
            size--;
        }
        s[o] = head;
        s[o + 1] = size;
        s[o + 2] = size == 0 ? 0 : sum;
    }

    private double slidingWait(double[] s, double now, double n) {
        expire(s, now);
        int o = offset;
        double excess = s[o + 2] + n - capacity;
        if (excess <= tolerance) {
            return 0;
        }
        int head = (int) s[o];
        int size = (int) s[o + 1];
        double freed = 0;
        for (int i = 0; i < size; i++) {
            int e = entry(head, i);
            freed += s[e + 1];
            if (freed + tolerance >= excess) {
                return s[e] + window - now;
            }
        }
        return window;
    }

    private void slidingAppend(double[] s, double now, double n, long seq) {
        expire(s, now);
        int o = offset;
        int head = (int) s[o];
        int size = (int) s[o + 1];
        if (size > 0) {
            int last = entry(head, size - 1);
            if (s[last] == now) {
                // Same instant: one entry is as exact as two.
                s[last + 1] += n;
                s[last + 2] = seq;
                s[o + 2] += n;
                return;
            }
        }
        if (size == ring) {
            size = compact(s, head, size);
            if (size == ring) {
                // Only if time went back (entries from the future): fold the oldest into the next one.
                int first = entry(head, 0);
                s[entry(head, 1) + 1] += s[first + 1];
                head = (head + 1) % ring;
                size--;
                s[o] = head;
            }
        }
        int e = entry(head, size);
        s[e] = now;
        s[e + 1] = n;
        s[e + 2] = seq;
        s[o + 1] = size + 1;
        s[o + 2] += n;
    }

    /**
     * Merges each run of neighbours in one cell of the grid into its last entry (its time and sequence
     * number are the run's latest, its units the run's sum), packing the ring from its head; returns
     * the new size. A grant stays findable by sequence number: runs are contiguous, so it is in the
     * oldest entry whose sequence number is at least its own.
     */
    private int compact(double[] s, int head, int size) {
        int kept = 0;
        double keptCell = Double.NaN;
        for (int i = 0; i < size; i++) {
            int from = entry(head, i);
            double time = s[from];
            double units = s[from + 1];
            double seq = s[from + 2];
            double cellIndex = Math.floor(time / cell);
            if (cellIndex == keptCell) {
                units += s[entry(head, kept - 1) + 1];
            } else {
                kept++;
                keptCell = cellIndex;
            }
            int to = entry(head, kept - 1);
            s[to] = time;
            s[to + 1] = units;
            s[to + 2] = seq;
        }
        s[offset + 1] = kept;
        return kept;
    }

    private void slidingSettle(double[] s, double now, long seq, long lastSeq, double refund) {
        expire(s, now);
        int o = offset;
        boolean expired = seq <= s[o + 3];
        if (!expired) {
            int head = (int) s[o];
            int size = (int) s[o + 1];
            // The grant lives in the oldest entry whose last sequence is >= seq (entries merge forward).
            for (int i = 0; i < size; i++) {
                int e = entry(head, i);
                if (s[e + 2] >= seq) {
                    double before = s[e + 1];
                    double after = Math.max(0, before - refund);
                    s[e + 1] = after;
                    s[o + 2] += after - before;
                    return;
                }
            }
        }
        if (refund < 0) {
            // The grant already left the window: its overuse counts from now.
            slidingAppend(s, now, -refund, lastSeq);
        }
    }
}
