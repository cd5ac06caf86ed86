package dev.concurry.limit.spi;

import dev.concurry.time.MonotonicClock;

/**
 * A {@link LocalStore} whose state is an array of doubles run by {@link SetAlgorithms}: a subclass
 * supplies only exclusive access ({@link #lock()}, {@link #unlock(long, boolean)}) and where the array
 * lives. The in-memory store keeps it in a field. (A store that must do more around a decision — the
 * shared-memory store orders waiters across processes and bounds how long it waits for a peer —
 * implements {@link LocalStore} itself on the same {@link SetAlgorithms}.)
 *
 * <pre>{@code
 * final class MyStore extends ArrayStore {
 *     MyStore(LimitSetDefinition definition, MonotonicClock clock) {
 *         super(new SetAlgorithms(definition.limits()), clock);
 *         algorithms.init(state, 0);
 *         epoch = clock.nanoTime();
 *     }
 *     protected void lock() { }                               // the engine's lock is enough in one JVM
 *     protected void unlock(long touched, boolean freed) { }
 *     public String describe() { return "mine"; }
 *     public void close() { }
 * }
 * }</pre>
 *
 * <p>Every public method runs between {@code lock()} and {@code unlock()}; the engine already calls
 * them one at a time, under the set's lock.
 */
public abstract class ArrayStore implements LocalStore {
    protected final SetAlgorithms algorithms;
    /** The state this JVM works on; current between {@link #lock()} and {@link #unlock(long, boolean)}. */
    protected final double[] state;
    private final MonotonicClock clock;
    /** The clock reading at which the state's time is 0; current between lock and unlock. */
    protected long epoch;
    private long lastReading;

    protected ArrayStore(SetAlgorithms algorithms, MonotonicClock clock) {
        this.algorithms = algorithms;
        this.clock = clock;
        this.state = new double[algorithms.stateSize()];
    }

    /** Takes exclusive access to {@link #state} and makes it (and {@link #epoch}) current. */
    protected abstract void lock();

    /**
     * Publishes what changed and gives up exclusive access.
     *
     * @param touched bit i set when limit i's state may have changed
     * @param freed   whether units came back (a release or a refund): waiters elsewhere may now be granted
     */
    protected abstract void unlock(long touched, boolean freed);

    /** Resource permits of {@code r} were taken (under the lock); for stores that track holders. */
    protected void resourcesTaken(ResolvedRequest r) {
    }

    /** Resource permits of {@code r} were given back (under the lock). */
    protected void resourcesReleased(ResolvedRequest r) {
    }

    @Override
    public MonotonicClock clock() {
        return clock;
    }

    /** Time since the epoch, reading the clock once (under the lock). */
    protected final double now() {
        lastReading = clock.nanoTime();
        return lastReading - epoch;
    }

    /**
     * Time since the epoch for a clock {@code reading} taken before the lock, to keep the clock out of a
     * short critical section: never earlier than the last time used under the lock (a thread that read
     * the clock first may take the lock second), so times in the state never go back.
     */
    protected final double nowFrom(long reading) {
        if (reading > lastReading) {
            lastReading = reading;
        }
        return lastReading - epoch;
    }

    @Override
    public long tryGrant(ResolvedRequest r) {
        lock();
        long seq = 0;
        try {
            seq = algorithms.tryGrant(state, now(), r);
            if (seq > 0 && r.holdsResource()) {
                resourcesTaken(r);
            }
            return seq;
        } finally {
            unlock(r.touches(), false);
        }
    }

    @Override
    public long decide(Batch batch, DecisionSink sink) {
        lock();
        long touched = 0;
        try {
            for (int i = 0, n = batch.size(); i < n; i++) {
                touched |= batch.request(i).touches();
            }
            algorithms.decide(state, now(), batch, new DecisionSink() {
                @Override
                public void granted(int i, long seq) {
                    ResolvedRequest r = batch.request(i);
                    if (r.holdsResource()) {
                        resourcesTaken(r);
                    }
                    sink.granted(i, seq);
                }

                @Override
                public void refused(int i, long shortOf, double wait) {
                    sink.refused(i, shortOf, wait);
                }
            });
            return lastReading;
        } finally {
            unlock(touched, false);
        }
    }

    @Override
    public boolean settle(ResolvedRequest r, long seq, double[] used) {
        lock();
        boolean freed = false;
        try {
            freed = algorithms.settle(state, now(), r, seq, used);
            if (r.holdsResource()) {
                resourcesReleased(r);
            }
            return freed;
        } finally {
            unlock(r.touches(), freed);
        }
    }

    @Override
    public Shortfall explain(ResolvedRequest r) {
        lock();
        try {
            double now = now();
            double[] available = new double[r.size()];
            for (int j = 0; j < available.length; j++) {
                available[j] = algorithms.available(state, r.limitIndex(j), now);
            }
            return new Shortfall(algorithms.shortOf(state, now, r), algorithms.waitTime(state, now, r), available);
        } finally {
            unlock(r.touches(), false);
        }
    }

    @Override
    public void observe(Feedback feedback) {
        lock();
        long touched = 0;
        try {
            touched = algorithms.observe(state, now(), feedback);
            observed();
        } finally {
            // A new budget may be looser than the last: as after a refund, waiters elsewhere look again.
            unlock(touched, true);
        }
    }

    /** Called under the lock after provider feedback changed {@link #state}; for stores with fast paths. */
    protected void observed() {
    }

    @Override
    public double headroom(ResolvedRequest r) {
        lock();
        try {
            return algorithms.headroom(state, now(), r);
        } finally {
            unlock(0, false);
        }
    }

    @Override
    public double idleIn() {
        lock();
        try {
            return algorithms.idleIn(state, now());
        } finally {
            unlock(0, false);
        }
    }

    @Override
    public StoreSnapshot snapshot() {
        lock();
        try {
            return algorithms.snapshot(state, now());
        } finally {
            unlock(0, false);
        }
    }
}
