package dev.concurry.limit.spi;

import dev.concurry.limit.Limit;
import java.util.List;
import java.util.Optional;

/**
 * The algorithms of one set's limits over a flat array of doubles (SPEC L5, "central idea"): whether
 * a request can be granted now or how long it must wait, granting it, settling it to its actual usage,
 * and deciding a whole batch of queued requests in order. Pure: no locks, no clock, no I/O. A store
 * keeps the array (in a field, a mapped file, a cluster map entry) and supplies atomicity and time;
 * every Java-side store runs this same code, so every backend admits exactly the same requests.
 *
 * <pre>{@code
 * SetAlgorithms algorithms = new SetAlgorithms(definition.limits());
 * double[] state = algorithms.newState(0);                 // times are ns since the store's epoch
 * long seq = algorithms.tryGrant(state, now, request);     // 0: refused
 * }</pre>
 *
 * <p>Layout of the array: word {@link #SEQ} holds the last grant sequence number; words from 1 to
 * {@code base - 1} belong to the store (a shared-memory store keeps its holder table there); each
 * limit's state follows from {@code base}, in the set's order ({@link #offset(int)}, {@link #size(int)}).
 *
 * <p>Immutable and thread-safe; the array is not (the store serialises access to it).
 */
public final class SetAlgorithms {
    /** Index of the last grant sequence number issued (a double: exact up to 2^53). */
    public static final int SEQ = 0;

    private final List<Limit> limits;
    private final LimitMath[] math;
    private final int base;
    private final int size;

    /** The algorithms of {@code limits}, their state starting at word 1. */
    public SetAlgorithms(List<Limit> limits) {
        this(limits, 1);
    }

    /**
     * The algorithms of {@code limits}, their state starting at word {@code base} (at least 1); the
     * words in between are the store's.
     */
    public SetAlgorithms(List<Limit> limits, int base) {
        if (base < 1) {
            throw new IllegalArgumentException("base must be at least 1 (word 0 is the sequence), got: " + base);
        }
        this.limits = List.copyOf(limits);
        this.base = base;
        this.math = new LimitMath[this.limits.size()];
        int offset = base;
        for (int i = 0; i < math.length; i++) {
            math[i] = new LimitMath(this.limits.get(i), offset);
            offset += math[i].stateSize();
        }
        this.size = offset;
    }

    /** The limits, in the set's order. */
    public List<Limit> limits() {
        return limits;
    }

    /** Words of state in all (store words included). */
    public int stateSize() {
        return size;
    }

    /** Where limit {@code i}'s state starts. */
    public int offset(int i) {
        return math[i].offset;
    }

    /** How many words limit {@code i}'s state has. */
    public int size(int i) {
        return math[i].stateSize();
    }

    /** A fresh state at time {@code now}: buckets full, windows empty, no permit held, sequence 0. */
    public double[] newState(double now) {
        double[] s = new double[size];
        init(s, now);
        return s;
    }

    /** Resets the limits' words of {@code s} to their initial state at {@code now} (store words untouched). */
    public void init(double[] s, double now) {
        s[SEQ] = 0;
        for (LimitMath m : math) {
            m.init(s, now);
        }
    }

    // ---- one request -----------------------------------------------------------------------------

    /**
     * The limits {@code r} is short of at {@code now} (bit i for limit i), 0 when it can be granted.
     * May normalise the state (expire old entries) without changing its meaning.
     */
    public long shortOf(double[] s, double now, ResolvedRequest r) {
        long shortOf = 0;
        int[] limits = r.limits;
        double[] amounts = r.amounts;
        for (int j = 0; j < limits.length; j++) {
            if (math[limits[j]].waitTime(s, now, amounts[j]) > 0) {
                shortOf |= 1L << limits[j];
            }
        }
        return shortOf;
    }

    /**
     * Nanoseconds until {@code r} could be granted if nothing else changed: 0 now, positive for rate
     * limits, {@code +Infinity} when a resource limit is short (only a release frees it).
     */
    public double waitTime(double[] s, double now, ResolvedRequest r) {
        double wait = 0;
        int[] limits = r.limits;
        double[] amounts = r.amounts;
        for (int j = 0; j < limits.length; j++) {
            wait = Math.max(wait, math[limits[j]].waitTime(s, now, amounts[j]));
        }
        return wait;
    }

    /** Takes every unit of {@code r} at {@code now} and returns the grant's sequence number (≥ 1). */
    public long commit(double[] s, double now, ResolvedRequest r) {
        long seq = (long) ++s[SEQ];
        int[] limits = r.limits;
        double[] amounts = r.amounts;
        for (int j = 0; j < limits.length; j++) {
            math[limits[j]].commit(s, now, amounts[j], seq);
        }
        return seq;
    }

    /** Grants {@code r} now if every limit allows it: its sequence number, else 0 (nothing changed). */
    public long tryGrant(double[] s, double now, ResolvedRequest r) {
        int[] limits = r.limits;
        double[] amounts = r.amounts;
        if (limits.length == 1) {
            long seq = (long) s[SEQ] + 1;
            if (!math[limits[0]].tryTake(s, now, amounts[0], seq)) {
                return 0;
            }
            s[SEQ] = seq;
            return seq;
        }
        for (int j = 0; j < limits.length; j++) {
            if (math[limits[j]].waitTime(s, now, amounts[j]) > 0) {
                return 0;
            }
        }
        return commit(s, now, r);
    }

    /**
     * Settles grant {@code seq} of {@code r} to its actual usage and gives
     * back its resource permits (SPEC L13). {@code used[j]} is the usage of the {@code j}-th limit
     * taken, NaN where not reported; a null {@code used} leaves the requested amounts standing.
     *
     * @return whether units came back (a refund or a release): waiters may now be granted
     */
    public boolean settle(double[] s, double now, ResolvedRequest r, long seq, double[] used) {
        boolean freed = false;
        int[] limits = r.limits;
        double[] amounts = r.amounts;
        for (int j = 0; j < limits.length; j++) {
            LimitMath m = math[limits[j]];
            if (m.isResource()) {
                if (amounts[j] > 0) {
                    m.release(s, amounts[j]);
                    freed = true;
                }
            } else if (used != null && !Double.isNaN(used[j]) && used[j] != amounts[j]) {
                m.settle(s, now, seq, (long) s[SEQ], amounts[j], used[j]);
                freed |= used[j] < amounts[j];
            }
        }
        return freed;
    }

    /** Gives back {@code n} permits of resource limit {@code i} (a dead holder's, for example). */
    public void release(double[] s, int i, double n) {
        math[i].release(s, n);
    }

    /**
     * What makes limit {@code i}'s words of {@code s} impossible at {@code now} — NaN, infinite, a
     * negative or fractional count, a window or a ring entry in the future, a debt of over 10^9
     * windows — or empty when they are plausible. For stores whose state can be
     * damaged outside this code (a shared file). Unless {@code thorough}, only the words every
     * decision reads are checked (cheap enough to run whenever the state is reloaded).
     */
    public Optional<String> checkState(double[] s, int i, double now, boolean thorough) {
        return Optional.ofNullable(math[i].invalid(s, now, thorough));
    }

    /**
     * Repairs rate limit {@code i} conservatively: its state becomes that of a limit whose whole
     * capacity was granted at {@code now}, so the repair never admits more than the limit allows (it
     * heals within one window). Does nothing to a resource limit (permits held are known only to the
     * store's holders).
     */
    public void exhaust(double[] s, int i, double now) {
        math[i].exhaust(s, now, (long) s[SEQ]);
    }

    /** Whether limit {@code i} is a resource limit. */
    public boolean isResource(int i) {
        return math[i].isResource();
    }

    // ---- a batch ---------------------------------------------------------------------------------

    /**
     * Decides {@code batch} at {@code now}, in order, first-come first-served per key (SPEC L12): an
     * attempt granted takes its units at once, so later ones see them taken; a queued attempt short of
     * a key blocks every later attempt needing that key (it is reported short of those keys, with an
     * unknown wait), so a large request is never starved by small ones and a waiter for one key never
     * holds up a request for another. A {@linkplain Batch#isTry try} is granted or refused and never
     * blocks anyone.
     */
    public void decide(double[] s, double now, Batch batch, DecisionSink sink) {
        long blocked = 0;
        for (int i = 0, n = batch.size(); i < n; i++) {
            ResolvedRequest r = batch.request(i);
            long behind = r.mask() & blocked;
            if (behind != 0) {
                sink.refused(i, behind, Double.NaN);
                continue;
            }
            long shortOf = shortOf(s, now, r);
            if (shortOf == 0) {
                sink.granted(i, commit(s, now, r));
            } else {
                sink.refused(i, shortOf, waitTime(s, now, r));
                if (!batch.isTry(i)) {
                    blocked |= shortOf;
                }
            }
        }
    }

    /**
     * Reports to {@code sink} what each limit touched by {@code batch} has available at {@code now}
     * (see {@link DecisionSink#available}); for remote stores, after {@link #decide}.
     */
    public void reportAvailable(double[] s, double now, Batch batch, DecisionSink sink) {
        long touched = 0;
        for (int i = 0, n = batch.size(); i < n; i++) {
            touched |= batch.request(i).touches();
        }
        for (int i = 0; i < math.length; i++) {
            if ((touched & (1L << i)) != 0) {
                sink.available(i, math[i].available(s, now));
            }
        }
    }

    // ---- provider feedback -----------------------------------------------------------------------

    /**
     * Records what a provider reported (SPEC F2–F4) at {@code now}: a budget per limit until its
     * reset, a pause, a scale (see {@code LimitMath}'s feedback words). A report that sets a budget
     * takes the next grant sequence number as its mark (no grant has it): grants made from now on
     * count against the budget, those made before do not (the provider counted them already). Its
     * source is the grant it answers ({@link Feedback#source()}), or this mark when it answers none.
     *
     * @return bit i set when limit i's state changed
     */
    public long observe(double[] s, double now, Feedback feedback) {
        double mark = feedback.setsBudget() ? ++s[SEQ] : s[SEQ];
        double source = feedback.source() < 0 ? mark : feedback.source();
        long touched = feedback.touches();
        for (int i = 0; i < math.length; i++) {
            if ((touched & (1L << i)) != 0) {
                math[i].observe(s, now, mark, source, feedback.remaining(i), feedback.resetNanos(i),
                        feedback.pauseNanos(i), feedback.scale(i));
            }
        }
        return touched;
    }

    /**
     * The latest state time (ns since the epoch) at which a provider's budget or pause of limit
     * {@code i} still acts, {@code -Infinity} when none ever did. Past it, and with no adopted limit
     * ({@link #scaled}), the limit's results are its algorithm's alone.
     */
    public double feedbackEnd(double[] s, int i) {
        return math[i].feedbackEnd(s);
    }

    /** Whether limit {@code i} counts its amounts scaled by an adopted provider limit. */
    public boolean scaled(double[] s, int i) {
        return math[i].scaled(s);
    }

    /** Nanoseconds from {@code now} until a provider's pause of limit {@code i} ends, 0 if none. */
    public double pausedFor(double[] s, int i, double now) {
        return math[i].pausedFor(s, now);
    }

    /** What is left of the provider's budget for limit {@code i} while it lasts, else NaN. */
    public double budget(double[] s, int i, double now) {
        return math[i].budget(s, now);
    }

    // ---- reading ---------------------------------------------------------------------------------

    /** Units of limit {@code i} that could be granted at {@code now} (negative in debt); no side effect. */
    public double available(double[] s, int i, double now) {
        return math[i].available(s, now);
    }

    /** Units of limit {@code i} counted against it at {@code now} (permits held, for a resource). */
    public double inUse(double[] s, int i, double now) {
        return math[i].inUse(s, now);
    }

    /** What every limit has available and in use at {@code now}; no side effect. */
    public StoreSnapshot snapshot(double[] s, double now) {
        double[] available = new double[math.length];
        double[] inUse = new double[math.length];
        for (int i = 0; i < math.length; i++) {
            available[i] = math[i].available(s, now);
            inUse[i] = math[i].inUse(s, now);
        }
        return new StoreSnapshot(available, inUse);
    }

    /**
     * Nanoseconds from {@code now} until the whole state admits, refunds and charges exactly what
     * {@link #newState} would, if nothing else happens: 0 when it already does (nothing held, nothing
     * owed, no window still counting); {@code +Infinity} while a resource permit is held. No side
     * effect. A keyed family drops a key's state only once this is 0 (SPEC L24); a distributed store
     * can let a key's entry expire after it (no grant is pending on it then).
     */
    public double idleIn(double[] s, double now) {
        double idle = 0;
        for (LimitMath m : math) {
            idle = Math.max(idle, m.idleIn(s, now));
        }
        return idle;
    }

    /**
     * The smallest fraction of capacity left once {@code r} would be granted, over the limits it takes
     * with a positive amount ({@code 1} when none); negative when it cannot be granted now. A hint for
     * pools choosing a set.
     */
    public double headroom(double[] s, double now, ResolvedRequest r) {
        double least = 1;
        for (int j = 0; j < r.limits.length; j++) {
            if (r.amounts[j] > 0) {
                LimitMath m = math[r.limits[j]];
                least = Math.min(least, (m.available(s, now) - r.amounts[j]) / m.capacity);
            }
        }
        return least;
    }

    /** GCRA only: see {@link LimitMath#gcraGrant}; for a store's lock-free path. */
    public double gcraGrant(int i, double tat, double now, double n) {
        return math[i].gcraGrant(tat, now, n);
    }

    /** Whether a limit is a sliding window (whose state is a ring of hundreds of words). */
    public boolean hasSlidingWindow() {
        for (LimitMath m : math) {
            if (m.kind == LimitMath.Kind.SLIDING_WINDOW) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether the set is a single GCRA or token-bucket limit (its whole state is one number at
     * {@code offset(0)}).
     */
    public boolean singleGcra() {
        return math.length == 1 && math[0].kind == LimitMath.Kind.GCRA;
    }
}
