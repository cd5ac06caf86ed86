package dev.concurry.limit.spi;

import dev.concurry.limit.CallLimit;
import dev.concurry.limit.Limit;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.ResourceLimit;
import java.util.Arrays;

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
 *
 * <h2>What the provider said (SPEC F2–F4)</h2>
 * After its own words, every rate limit has {@value #FEEDBACK_WORDS} words of provider feedback, changed
 * only by {@link #observe} and neutral until then (so that without feedback every result is the
 * algorithm's alone):
 * <ul>
 *   <li><b>budget</b> and <b>budget end</b> (the clamp, F2): while {@code now < budget end}, a grant of
 *       n units needs {@code n <= budget}; each grant takes n from it, and settling a grant made after
 *       the report gives back what it refunds (or takes what it overuses). A grant made before the
 *       report is not in the budget: the provider counted it already. Outside the clamp, the budget is
 *       not touched.</li>
 *   <li><b>mark</b>: the grant sequence number of the report; grants with a larger one count against
 *       the budget.</li>
 *   <li><b>pause end</b> (F3): no grant before it.</li>
 *   <li><b>scale</b> (F4, an adopted limit): the algorithm counts {@code n × scale} units for n, so a
 *       limit of capacity C behaves as a limit of C / scale (every algorithm is linear in its amounts).
 *       1 until a limit is adopted.</li>
 *   <li><b>source</b>: the sequence number of the grant whose response set the budget in force: a
 *       report about a later grant is newer and replaces it; one about an earlier grant (an older answer
 *       read late) can only lower it.</li>
 * </ul>
 * A waiter held by the clamp waits until the budget ends (or a refund), one held by a pause until the
 * pause ends: {@link #waitTime} reports both, so waking is exact.
 */
final class LimitMath {
    /** Relative rounding tolerance: 1e-12 of capacity (a waiter woken at its computed instant is granted). */
    static final double TOLERANCE = 1e-12;
    private static final int SW_HEADER = 4;
    private static final int SW_ENTRY = 3;
    /** Entries in a sliding window's ring: 4 + 3 × 512 doubles = 12,320 bytes per limit (plus the feedback words). */
    static final int SW_RING = 512;
    /** {@link #SW_RING} is a power of two: a ring index wraps with this mask (a division costs ~10× more). */
    private static final int SW_MASK = SW_RING - 1;
    /** Words of provider feedback after a rate limit's own state: budget, its end, mark, pause end, scale, source. */
    static final int FEEDBACK_WORDS = 6;
    private static final int FB_BUDGET = 0;
    private static final int FB_UNTIL = 1;
    private static final int FB_MARK = 2;
    private static final int FB_PAUSE = 3;
    private static final int FB_SCALE = 4;
    private static final int FB_SOURCE = 5;

    enum Kind {
        LEAKY_BUCKET, SLIDING_WINDOW, FIXED_WINDOW, GCRA, RESOURCE
    }

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
    /** Where the feedback words start ({@code offset} + the algorithm's words); -1 for a resource limit. */
    final int feedback;

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
        this.feedback = kind == Kind.RESOURCE ? -1 : offset + ownSize();
    }

    private static Kind kindOf(RateAlgorithm algorithm) {
        return switch (algorithm) {
            case TOKEN_BUCKET, GCRA -> Kind.GCRA;
            case LEAKY_BUCKET -> Kind.LEAKY_BUCKET;
            case SLIDING_WINDOW -> Kind.SLIDING_WINDOW;
            case FIXED_WINDOW -> Kind.FIXED_WINDOW;
        };
    }

    /** How many doubles of state this limit needs (its algorithm's and the feedback words). */
    int stateSize() {
        return ownSize() + (kind == Kind.RESOURCE ? 0 : FEEDBACK_WORDS);
    }

    /** How many doubles the algorithm itself needs. */
    private int ownSize() {
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
        if (feedback >= 0) {
            clearFeedback(s);
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
        if (feedback < 0) {
            return ownWait(s, now, n);
        }
        int f = feedback;
        double scale = s[f + FB_SCALE];
        // Scaled above capacity (an adopted limit below the amount): it needs the whole capacity.
        double wait = ownWait(s, now, scale == 1 ? n : Math.min(capacity, n * scale));
        double pause = s[f + FB_PAUSE] - now;
        if (pause > 0) {
            wait = Math.max(wait, pause);
        }
        double clamp = s[f + FB_UNTIL] - now;
        if (clamp > 0 && n > s[f + FB_BUDGET] + tolerance) {
            wait = Math.max(wait, clamp);
        }
        return wait;
    }

    /** {@link #waitTime} of the algorithm alone, for {@code n} > 0 units (scaled). */
    private double ownWait(double[] s, double now, double n) {
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
     * Takes {@code n} units at {@code now} as grant {@code seq} if {@link #waitTime} allows it now (then
     * exactly as {@link #commit}); false otherwise. One call instead of the two, for a request of one
     * limit: a sliding window with no provider feedback in force expires its ring and reads its
     * feedback words once.
     */
    boolean tryTake(double[] s, double now, double n, long seq) {
        if (kind == Kind.SLIDING_WINDOW && n > 0) {
            int f = feedback;
            if (s[f + FB_SCALE] == 1 && s[f + FB_PAUSE] <= now && s[f + FB_UNTIL] <= now) {
                expire(s, now);
                if (s[offset + 2] + n - capacity > tolerance) {
                    return false;
                }
                slidingPut(s, now, n, seq);
                return true;
            }
        }
        if (waitTime(s, now, n) > 0) {
            return false;
        }
        commit(s, now, n, seq);
        return true;
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
        if (feedback >= 0) {
            int f = feedback;
            if (now < s[f + FB_UNTIL]) {
                s[f + FB_BUDGET] -= n;
            }
            if (s[f + FB_SCALE] != 1) {
                n *= s[f + FB_SCALE];
            }
        }
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
        if (feedback >= 0) {
            int f = feedback;
            if (now < s[f + FB_UNTIL] && seq > s[f + FB_MARK]) {
                s[f + FB_BUDGET] += refund;
            }
            if (s[f + FB_SCALE] != 1) {
                refund *= s[f + FB_SCALE];
            }
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

    /** A debt of more windows than this is corruption, not overuse (one charge is at most 10^6 windows). */
    static final double MAX_DEBT_WINDOWS = 1e9;
    /** How far a time word may lie ahead of {@code now}: processes read one clock microseconds apart. */
    static final double FUTURE_SLACK_NANOS = 1e9;

    /**
     * What makes this limit's words impossible at {@code now} (NaN, infinite, out of range), or null.
     * Unless {@code thorough}, only the words every decision reads are checked (a sliding window's
     * header, not its ring). Debt within {@link #MAX_DEBT_WINDOWS} is legitimate overuse.
     */
    String invalid(double[] s, double now, boolean thorough) {
        int o = offset;
        int words = thorough || kind != Kind.SLIDING_WINDOW ? ownSize() : SW_HEADER;
        for (int w = 0; w < words; w++) {
            if (!Double.isFinite(s[o + w])) {
                return "word " + w + " is " + s[o + w];
            }
        }
        if (feedback >= 0) {
            String why = feedbackInvalid(s);
            if (why != null) {
                return why;
            }
        }
        double debt = MAX_DEBT_WINDOWS * capacity;
        double latest = now + FUTURE_SLACK_NANOS;
        return switch (kind) {
            case GCRA, LEAKY_BUCKET -> s[o] > latest + window * (1 + MAX_DEBT_WINDOWS)
                    ? "theoretical arrival time " + s[o] + " ns, a debt of more than " + MAX_DEBT_WINDOWS
                            + " windows at " + now + " ns"
                    : null;
            case FIXED_WINDOW -> !whole(s[o]) || s[o] > Math.floor(latest / window)
                    ? "window index " + s[o] + " (now is in window " + Math.floor(now / window) + ")"
                    : s[o + 1] < -tolerance || s[o + 1] > capacity + debt
                            ? "count " + s[o + 1] + " out of range"
                            : !whole(s[o + 2]) || s[o + 2] < 0
                                    ? "first sequence number " + s[o + 2]
                                    : null;
            case SLIDING_WINDOW -> slidingInvalid(s, latest, debt, thorough);
            case RESOURCE -> s[o] < 0 || s[o] > capacity || !whole(s[o])
                    ? "permits held " + s[o] + ", not a whole number in [0, " + capacity + "]"
                    : null;
        };
    }

    /**
     * What is impossible in the feedback words: the two end times may be -Infinity (no budget, no pause)
     * but never NaN; the budget, mark and source are finite; the scale is finite and positive.
     */
    private String feedbackInvalid(double[] s) {
        int f = feedback;
        if (Double.isNaN(s[f + FB_UNTIL]) || Double.isNaN(s[f + FB_PAUSE])
                || s[f + FB_UNTIL] == Double.POSITIVE_INFINITY
                || s[f + FB_PAUSE] == Double.POSITIVE_INFINITY) {
            return "provider feedback end times " + s[f + FB_UNTIL] + ", " + s[f + FB_PAUSE];
        }
        if (!Double.isFinite(s[f + FB_BUDGET]) || !Double.isFinite(s[f + FB_MARK]) || !Double.isFinite(s[f + FB_SOURCE])
                || !Double.isFinite(s[f + FB_SCALE]) || s[f + FB_SCALE] <= 0) {
            return "provider feedback words (budget " + s[f + FB_BUDGET] + ", scale " + s[f + FB_SCALE] + ")";
        }
        return null;
    }

    private String slidingInvalid(double[] s, double latest, double debt, boolean thorough) {
        int o = offset;
        if (!whole(s[o]) || s[o] < 0 || s[o] >= ring || !whole(s[o + 1]) || s[o + 1] < 0 || s[o + 1] > ring) {
            return "ring head " + s[o] + " and size " + s[o + 1] + " out of [0, " + ring + "]";
        }
        if (s[o + 2] < -tolerance || s[o + 2] > capacity + debt) {
            return "units in the window " + s[o + 2] + " out of range";
        }
        if (!thorough) {
            return null;
        }
        int head = (int) s[o];
        int size = (int) s[o + 1];
        double previous = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < size; i++) {
            int e = entry(head, i);
            if (s[e] > latest || s[e] < previous || s[e + 1] < 0 || s[e + 1] > capacity + debt || s[e + 2] < 0) {
                return "ring entry " + i + " (time " + s[e] + " ns, units " + s[e + 1] + ", sequence " + s[e + 2]
                        + ") out of range or order";
            }
            previous = s[e];
        }
        return null;
    }

    private static boolean whole(double x) {
        return x == Math.rint(x);
    }

    /**
     * Replaces this rate limit's state by the most conservative one: as if its whole capacity had been
     * granted at {@code now} (a repair that can never over-admit; it heals within a window). Grants up
     * to sequence number {@code seq} count as expired. A resource limit is left alone: only its holders
     * know how many permits are held.
     */
    void exhaust(double[] s, double now, long seq) {
        int o = offset;
        switch (kind) {
            case GCRA, LEAKY_BUCKET -> s[o] = now + window;
            case FIXED_WINDOW -> {
                s[o] = Math.floor(now / window);
                s[o + 1] = capacity;
                s[o + 2] = seq + 1;
            }
            case SLIDING_WINDOW -> {
                Arrays.fill(s, o, o + ownSize(), 0);
                s[o + 1] = 1;
                s[o + 2] = capacity;
                s[o + 3] = seq;
                int e = entry(0, 0);
                s[e] = now;
                s[e + 1] = capacity;
                s[e + 2] = seq;
            }
            case RESOURCE -> {
                // repaired by the store from what holders hold
            }
        }
        if (feedback >= 0 && feedbackInvalid(s) != null) {
            clearFeedback(s);    // damaged feedback words: forget them (the state above is exhausted)
        }
    }

    /** The feedback words as a fresh limit has them: no budget, no pause, scale 1, heard from nobody. */
    private void clearFeedback(double[] s) {
        int f = feedback;
        s[f + FB_BUDGET] = 0;
        s[f + FB_UNTIL] = Double.NEGATIVE_INFINITY;
        s[f + FB_MARK] = 0;
        s[f + FB_PAUSE] = Double.NEGATIVE_INFINITY;
        s[f + FB_SCALE] = 1;
        s[f + FB_SOURCE] = 0;
    }

    /** Gives back {@code n} permits of a resource limit. */
    void release(double[] s, double n) {
        s[offset] = Math.max(0, s[offset] - n);
    }

    /**
     * Units that could be granted at {@code now}, without changing the state (negative in debt): at
     * most the provider's budget while it lasts, none (or the debt) while paused.
     */
    double available(double[] s, double now) {
        if (feedback < 0) {
            return capacity - inUse(s, now);
        }
        int f = feedback;
        double scale = s[f + FB_SCALE];
        double available = (capacity - ownInUse(s, now)) / scale;
        if (now < s[f + FB_UNTIL]) {
            available = Math.min(available, s[f + FB_BUDGET]);
        }
        return now < s[f + FB_PAUSE] ? Math.min(available, 0) : available;
    }

    /** Units counted against the limit at {@code now} (permits held, for a resource); no side effect. */
    double inUse(double[] s, double now) {
        double units = ownInUse(s, now);
        return feedback < 0 ? units : units / s[feedback + FB_SCALE];
    }

    /** {@link #inUse} of the algorithm, in its own (scaled) units. */
    private double ownInUse(double[] s, double now) {
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
     * Records what the provider reported for this limit at {@code now} (SPEC F2–F4); each argument NaN
     * when not reported. A resource limit ignores it.
     *
     * @param mark       the grant sequence number of the report: later grants count against the budget
     * @param source     the sequence number of the grant the report answers: a report about a grant
     *                   later than the one that set an active budget replaces it; one about an earlier
     *                   grant (an older answer read late) can only lower it
     * @param remaining  units the provider still grants until {@code resetNanos} from now (the clamp)
     * @param resetNanos when the clamp ends
     * @param pauseNanos no grant before this (Retry-After); a pause is only ever extended
     * @param scale      units counted for each unit granted (an adopted limit: capacity / reported)
     */
    void observe(double[] s, double now, double mark, double source, double remaining, double resetNanos,
            double pauseNanos, double scale) {
        if (feedback < 0) {
            return;
        }
        int f = feedback;
        if (pauseNanos > 0) {
            s[f + FB_PAUSE] = Math.max(s[f + FB_PAUSE], now + pauseNanos);
        }
        if (remaining >= 0 && resetNanos > 0) {
            if (now >= s[f + FB_UNTIL] || source > s[f + FB_SOURCE]) {
                s[f + FB_BUDGET] = remaining;
                s[f + FB_UNTIL] = now + resetNanos;
                s[f + FB_SOURCE] = source;
            } else {
                s[f + FB_BUDGET] = Math.min(s[f + FB_BUDGET], remaining);
            }
            s[f + FB_MARK] = mark;
        }
        if (scale > 0 && scale < Double.POSITIVE_INFINITY) {
            s[f + FB_SCALE] = scale;
        }
    }

    /** The latest instant a clamp or pause of this limit still acts, or -Infinity (none, or a resource). */
    double feedbackEnd(double[] s) {
        return feedback < 0 ? Double.NEGATIVE_INFINITY : Math.max(s[feedback + FB_UNTIL], s[feedback + FB_PAUSE]);
    }

    /** Whether an adopted limit scales this limit's amounts. */
    boolean scaled(double[] s) {
        return feedback >= 0 && s[feedback + FB_SCALE] != 1;
    }

    /** Nanoseconds from {@code now} until a pause of this limit ends, 0 if none. */
    double pausedFor(double[] s, double now) {
        return feedback < 0 ? 0 : Math.max(0, s[feedback + FB_PAUSE] - now);
    }

    /** The provider's budget left while its clamp lasts, else NaN. */
    double budget(double[] s, double now) {
        return feedback >= 0 && now < s[feedback + FB_UNTIL] ? s[feedback + FB_BUDGET] : Double.NaN;
    }

    /**
     * Nanoseconds from {@code now} until this limit's state admits, refunds and charges exactly what a
     * fresh state ({@link #init}) would, if nothing else happens: 0 when it already does;
     * {@code +Infinity} while a resource permit is held (only a release frees it) or while an adopted
     * provider limit scales it (a fresh state would forget it, and be more generous). A provider's
     * clamp or pause counts until it ends. No side effect. A keyed family drops a key's state only then
     * (SPEC L24); a distributed store can expire it then.
     */
    double idleIn(double[] s, double now) {
        double own = ownIdleIn(s, now);
        if (feedback < 0) {
            return own;
        }
        int f = feedback;
        if (s[f + FB_SCALE] != 1) {
            return Double.POSITIVE_INFINITY;
        }
        // The budget, mark and source words mean nothing once the clamp is over (a report then replaces them).
        return Math.max(own, Math.max(s[f + FB_UNTIL], s[f + FB_PAUSE]) - now);
    }

    private double ownIdleIn(double[] s, double now) {
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
        return offset + SW_HEADER + SW_ENTRY * ((head + i) & SW_MASK);
    }

    /** Drops entries whose window has passed: a grant at t counts in [t, t + window). */
    private void expire(double[] s, double now) {
        int o = offset;
        int head = (int) s[o];
        int size = (int) s[o + 1];
        if (size > 0 && s[entry(head, 0)] + window > now) {
            return;     // the oldest is still in the window (most calls): nothing to write
        }
        double sum = s[o + 2];
        while (size > 0) {
            int e = entry(head, 0);
            if (s[e] + window > now) {
                break;
            }
            sum -= s[e + 1];
            s[o + 3] = s[e + 2];
            head = (head + 1) & SW_MASK;
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
        slidingPut(s, now, n, seq);
    }

    /** {@link #slidingAppend} once expired entries are gone. */
    private void slidingPut(double[] s, double now, double n, long seq) {
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
                head = (head + 1) & SW_MASK;
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
