package dev.concurry.limit.shm;

import dev.concurry.limit.Request;
import dev.concurry.limit.spi.Batch;
import dev.concurry.limit.spi.DecisionSink;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LocalStore;
import dev.concurry.limit.spi.ResolvedRequest;
import dev.concurry.limit.spi.SetAlgorithms;
import dev.concurry.limit.spi.Shortfall;
import dev.concurry.limit.spi.StoreSnapshot;
import dev.concurry.time.MonotonicClock;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shared-memory store (SPEC L17): a set's state lives in a memory-mapped file ({@link SharedFile})
 * that every JVM on the host opens by path; there is no server. Each JVM runs {@link SetAlgorithms} on
 * a local copy of the state ({@link LocalCopy}), between taking the file's lock word (reload what other
 * JVMs changed) and releasing it (publish what this one changed through the redo log).
 *
 * <p>Time is {@link MonotonicClock} time ({@code System.nanoTime()}, one host-wide monotonic clock on
 * Linux, macOS and Windows) since the epoch stored in the file; if the host was rebooted since (its
 * boot id changed) no process can still hold anything, and the state restarts from a fresh epoch.
 *
 * <h2>Waiting, in order across JVMs</h2>
 * A waiter this store cannot grant at once takes a ticket in the file's queue ({@link Tickets}), and
 * every decision walks the tickets of every process in arrival order, with this JVM's newcomers merged
 * in by theirs, so first come, first served holds per key across JVMs (SPEC L12). Whoever holds the lock grants any
 * ticket that can be granted, for whatever process; the owner collects it when it next decides.
 * Within a JVM the engine's queue and exact clock wake-ups apply unchanged. Events of other JVMs
 * (units coming back, the queue moving) bump the generation word: while the set has waiters here, a
 * watcher thread watches it, parking 50 µs after a change and backing off to 1 ms, and has the engine
 * decide again when it moves (and every {@value #PERIODIC_MILLIS} ms regardless, which also reclaims a
 * dead process's permits and tickets within about 150 ms).
 *
 * <h2>Peers that stop, files that break</h2>
 * No operation the engine calls waits long for a peer: for a holder of the lock that is stopped
 * (SIGSTOP, ptrace) a few milliseconds, for one that runs but keeps it (a long GC, a Java debugger,
 * starved of CPU) {@link #PATIENCE_NANOS}; then a try is refused (counted as a rejection), the
 * waiters retry every {@link #RETRY_NANOS} ns (their timeouts fire as usual), a settlement is kept and
 * applied by a background thread once the lock is free, and stats report the last state read.
 * Wake-ups run off the JVM's shared timer thread ({@link OffTimerClock}). A file truncated while in
 * use (the mapping faults) or a corrupted redo log makes every later operation fail with an
 * {@link IllegalStateException} that says so, instead of crashing the JVM; impossible state words are
 * repaired when read ({@link LocalCopy}).
 *
 * <p>Within one JVM, all sets on one file share one mapping and one {@link
 * java.util.concurrent.locks.ReentrantLock} (taken before the lock word, so the word is only contended
 * between processes). Deleting or replacing a file that is in use splits its users; don't.
 */
final class SharedMemoryStore implements LocalStore {
    static final int PERIODIC_MILLIS = 100;
    /**
     * How long an operation of the engine waits for the file's lock while its holder runs (a holder
     * that is stopped is given up on within milliseconds, see {@link SharedFile#lockWord}). Long enough
     * for a holder starved of CPU on an overloaded host (holds of 200 ms were seen at a load of 8 on
     * 2 CPUs), short enough that a holder in a long GC pause or suspended by a Java debugger holds up
     * tries only once.
     */
    static final long PATIENCE_NANOS = TimeUnit.SECONDS.toNanos(1);
    /** How long opening a set waits for the file's lock. */
    static final long OPEN_PATIENCE_NANOS = TimeUnit.SECONDS.toNanos(10);
    /** When waiters that could not be decided (the lock was not free) are decided again. */
    static final double RETRY_NANOS = 10_000_000;
    private static final long POLL_MIN_NANOS = 50_000;
    private static final long POLL_MAX_NANOS = 1_000_000;
    private static final long FLUSH_BACKOFF_MAX_NANOS = 100_000_000;
    private static final Logger log = LoggerFactory.getLogger(SharedMemoryStore.class);

    private final SharedFile file;
    private final Layout layout;
    private final SetAlgorithms algorithms;
    private final Holders holders;
    private final Tickets tickets;
    private final LimitSetDefinition definition;
    private final MonotonicClock clock;
    /** What the engine schedules wake-ups on: off the shared timer thread for the system clock. */
    private final MonotonicClock wakeups;
    /** Tells this set's tickets from those of other sets of this JVM on the same file. */
    private final int token = ThreadLocalRandom.current().nextInt(1, Integer.MAX_VALUE);
    private final OneTry oneTry = new OneTry();

    // Guarded by file.lock:
    /** This set's copy of the file's state and the transaction on it. */
    private final LocalCopy copy;
    /** The state words (the copy's). */
    private final double[] state;
    private boolean queueFullLogged;
    /** Other processes' tickets, resolved (by ticket number). */
    private final Map<Double, ResolvedRequest> foreign = new HashMap<>();
    /** Decisions of the current walk, reported once they are published. */
    private long[] grantedSeq = new long[16];
    private long[] shortOf = new long[16];
    private double[] waitFor = new double[16];
    private boolean[] ticketed = new boolean[16];
    /** Per ticket position of the current walk: which attempt of the batch holds it (this set's tickets). */
    private final int[] ticketIndex = new int[Tickets.CAPACITY];
    /**
     * Clock readings when waiters were first seen, while they have no ticket (the lock was not free,
     * or the queue was full): they keep their place. Touched only under the engine's lock.
     */
    private final Map<Long, Long> arrivals = new HashMap<>();
    /** Per limit: the earliest a waiter short of it could be granted (for waiters queued behind it). */
    private final double[] keyWait;
    /** The last snapshot read, for stats while the lock is not free. */
    private StoreSnapshot lastSnapshot;

    /** Work that needs the lock but could not wait for it, in order. */
    private final ConcurrentLinkedQueue<Pending> pending = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean flushing = new AtomicBoolean();
    private final AtomicBoolean finished = new AtomicBoolean();
    private volatile boolean closed;
    /** Whether this set ever took a ticket: only then can a waiter that leaves have one. */
    private volatile boolean queued;
    // Written under the engine's lock (waiters()), read by the watcher.
    private volatile int watchGeneration;
    private volatile boolean watching;
    private volatile Thread watcher;
    private volatile BooleanSupplier redispatch = () -> false;

    /** Something to do under the lock: a settlement, a waiter that left, a set that closed. */
    private sealed interface Pending {
    }

    private record Settlement(ResolvedRequest request, long seq, double[] used) implements Pending {
    }

    private record Left(long waiter) implements Pending {
    }

    private record Closed() implements Pending {
    }

    private SharedMemoryStore(SharedFile file, LimitSetDefinition definition, MonotonicClock clock) {
        this.file = file;
        this.layout = file.layout;
        this.algorithms = layout.algorithms;
        this.holders = new Holders(layout, file.path);
        this.tickets = layout.tickets;
        this.definition = definition;
        this.clock = clock;
        this.wakeups = clock == MonotonicClock.system() ? new OffTimerClock(clock) : clock;
        this.copy = new LocalCopy(file, holders, clock);
        this.state = copy.state;
        this.keyWait = new double[algorithms.limits().size()];
        if (!lock(OPEN_PATIENCE_NANOS)) {
            throw new IllegalStateException("cannot open shared-memory limit file " + file.path + ": "
                    + "another process has held its lock for over " + OPEN_PATIENCE_NANOS / 1_000_000_000
                    + " s and is alive (paused by SIGSTOP or a debugger?); resume or stop it");
        }
        try {
            copy.checkOnOpen();
            if (layout.resources > 0 && file.slot < 0) {
                file.slot = holders.claim(state);
                copy.touchHolders();
            }
            lastSnapshot = algorithms.snapshot(state, copy.now);
        } finally {
            unlock();
        }
    }

    /** Opens (creating it if needed) the store of {@code definition} in {@code path}. */
    static SharedMemoryStore open(LimitSetDefinition definition, Path path, MonotonicClock clock) {
        Layout layout = new Layout(definition.limits());
        SharedFile file = SharedFile.open(path, layout, clock, definition.name());
        try {
            SharedMemoryStore store = new SharedMemoryStore(file, definition, clock);
            file.stores.add(store);
            return store;
        } catch (RuntimeException | Error e) {
            file.release();
            throw e;
        }
    }

    @Override
    public MonotonicClock clock() {
        return wakeups;
    }

    // ---- what the engine calls -------------------------------------------------------------------

    @Override
    public long tryGrant(ResolvedRequest r) {
        if (!lock(PATIENCE_NANOS)) {
            return 0;       // a live process keeps the lock: refused, never blocked on it
        }
        long seq = 0;
        try {
            if ((r.mask() & tickets.waiting(state)) == 0) {
                copy.touch(r.touches());
                seq = algorithms.tryGrant(state, copy.now, r);
                if (seq > 0 && r.holdsResource()) {
                    holders.add(state, file.slot, r, 1);
                    copy.touchHolders();
                }
            } else {
                oneTry.request = r;
                walk(oneTry, false);
                seq = grantedSeq[0];
            }
        } catch (RuntimeException | Error e) {
            copy.abandon();
            throw e;
        }
        unlock();
        return seq;
    }

    @Override
    public long decide(Batch batch, DecisionSink sink) {
        int n = batch.size();
        boolean locked;
        try {
            locked = lock(PATIENCE_NANOS);
        } catch (RuntimeException unusable) {
            // The file broke: nobody can be granted. Throwing here would strand waiters the engine is
            // taking out of its queue (a timeout); they keep waiting for their timeouts instead, while
            // every new attempt fails with the exception (tryGrant).
            for (int i = 0; i < n; i++) {
                sink.refused(i, 0, Double.POSITIVE_INFINITY);
            }
            return clock.nanoTime();
        }
        if (!locked) {
            long seen = clock.nanoTime();
            for (int i = 0; i < n; i++) {
                if (!batch.isTry(i)) {
                    arrivals.putIfAbsent(batch.id(i), seen);
                }
                sink.refused(i, batch.request(i).mask(), RETRY_NANOS);
            }
            return seen;
        }
        long base = copy.reading;
        try {
            walk(batch, true);
        } catch (RuntimeException e) {
            copy.abandon();
            log.warn("shared-memory limit file {}: could not decide {} waiters: {}", file.path, n, e.toString());
            for (int i = 0; i < n; i++) {
                sink.refused(i, batch.request(i).mask(), RETRY_NANOS);
            }
            return clock.nanoTime();
        }
        try {
            unlock();
        } catch (IllegalStateException unusable) {
            for (int i = 0; i < n; i++) {
                sink.refused(i, 0, Double.POSITIVE_INFINITY);      // nothing was published: nothing granted
            }
            return clock.nanoTime();
        }
        for (int i = 0; i < n; i++) {
            if (grantedSeq[i] > 0) {
                sink.granted(i, grantedSeq[i]);
            } else {
                sink.refused(i, shortOf[i], waitFor[i]);
            }
        }
        return base;
    }

    @Override
    public boolean settle(ResolvedRequest r, long seq, double[] used) {
        if (!lock(PATIENCE_NANOS)) {
            pending.add(new Settlement(r, seq, used));
            startFlusher();
            return false;
        }
        boolean freed;
        try {
            freed = settleLocked(r, seq, used);
        } catch (RuntimeException | Error e) {
            copy.abandon();
            throw e;
        }
        unlock();
        return freed;
    }

    /**
     * Records what the provider reported in the file, so that every process using the set honours it
     * (SPEC F2–F4). Waits for the lock like any settlement would; as after a refund, waiters in every
     * process look again (a new budget may be looser than the last).
     */
    @Override
    public void observe(dev.concurry.limit.spi.Feedback feedback) {
        if (!lock(PATIENCE_NANOS)) {
            throw new IllegalStateException("the shared-memory limit file " + file.path + " stayed locked by a"
                    + " stuck process; what the provider reported was not recorded");
        }
        try {
            copy.touch(algorithms.observe(state, copy.now, feedback));
            copy.move();
        } catch (RuntimeException | Error e) {
            copy.abandon();
            throw e;
        }
        unlock();
    }

    /**
     * From the state as it is now. A request the limits would allow while waiters of any JVM wait for
     * its keys is reported short of those keys, with no known wait (it queues behind them). If the lock
     * is not free (or the file broke), it is reported short of every key, from the last state read.
     */
    @Override
    public Shortfall explain(ResolvedRequest r) {
        boolean locked;
        try {
            locked = lock(PATIENCE_NANOS);
        } catch (RuntimeException unusable) {
            locked = false;
        }
        if (!locked) {
            double[] available = new double[r.size()];
            for (int j = 0; j < available.length; j++) {
                available[j] = lastSnapshot.available(r.limitIndex(j));
            }
            return new Shortfall(r.mask(), Double.NaN, available);
        }
        Shortfall shortfall;
        try {
            copy.touch(r.touches());
            double[] available = new double[r.size()];
            for (int j = 0; j < available.length; j++) {
                available[j] = algorithms.available(state, r.limitIndex(j), copy.now);
            }
            long shortNow = algorithms.shortOf(state, copy.now, r);
            long behind = r.mask() & tickets.waiting(state);
            shortfall = shortNow == 0 && behind != 0
                    ? new Shortfall(behind, Double.NaN, available)
                    : new Shortfall(shortNow, algorithms.waitTime(state, copy.now, r), available);
        } catch (RuntimeException | Error e) {
            copy.abandon();
            throw e;
        }
        try {
            unlock();
        } catch (IllegalStateException unusable) {
            // the file broke while we looked: the answer stands (a refusal explains, never fails)
        }
        return shortfall;
    }

    @Override
    public double headroom(ResolvedRequest r) {
        if (!lock(PATIENCE_NANOS)) {
            return -1;      // cannot be granted now
        }
        try {
            if ((r.mask() & tickets.waiting(state)) != 0) {
                return Double.NEGATIVE_INFINITY;        // waiters of some process are short of its keys
            }
            copy.touch(r.touches());
            return algorithms.headroom(state, copy.now, r);
        } finally {
            unlock();
        }
    }

    @Override
    public StoreSnapshot snapshot() {
        if (!lock(PATIENCE_NANOS)) {
            return lastSnapshot;        // the last state read: consistent, if not current
        }
        try {
            lastSnapshot = algorithms.snapshot(state, copy.now);
            return lastSnapshot;
        } finally {
            unlock();
        }
    }

    private boolean settleLocked(ResolvedRequest r, long seq, double[] used) {
        boolean freed = algorithms.settle(state, copy.now, r, seq, used);
        copy.touch(r.touches());
        if (r.holdsResource()) {
            holders.add(state, file.slot, r, -1);
            copy.touchHolders();
        }
        if (freed) {
            copy.move();
        }
        return freed;
    }

    // ---- deciding in ticket order ----------------------------------------------------------------

    /**
     * Decides {@code batch} together with every ticket in the file, in arrival order, first-come
     * first-served per key as {@link SetAlgorithms#decide} does within one batch: a ticket or attempt
     * short of a key blocks the later ones needing it. Other processes' tickets that can be granted are
     * granted for them. With {@code collect} (the engine's whole queue), this set's tickets are its
     * waiters: a ticket whose waiter is not in the batch left, one granted for us is collected, and
     * newcomers merge in by arrival (when this store first saw them) and take tickets if they must
     * wait. Without it (a try, arriving now), this set's tickets count like anyone's. The decisions go
     * to {@link #grantedSeq}, {@link #shortOf} and {@link #waitFor}.
     */
    private void walk(Batch batch, boolean collect) {
        int n = batch.size();
        ensureDecisions(n);
        Arrays.fill(grantedSeq, 0, n, 0);
        Arrays.fill(ticketed, 0, n, false);
        Arrays.fill(keyWait, Double.POSITIVE_INFINITY);
        int head = tickets.head(state);
        int size = tickets.size(state);
        if (collect && size > 0) {
            collectOwn(batch, head, size);
        }
        long blocked = 0;
        int k = 0;
        int i = nextNewcomer(0, n);
        double newcomerArrival = i < n ? arrivalOf(batch, i) : Double.POSITIVE_INFINITY;
        while (k < size || i < n) {
            int e = k < size ? tickets.at(head, k) : -1;
            if (e >= 0 && !tickets.live(state, e)) {
                k++;
                continue;
            }
            if (e >= 0 && tickets.arrival(state, e) <= newcomerArrival) {
                k++;
                if (collect && tickets.mine(state, e, token)) {
                    blocked = decideOne(batch, ticketIndex[k - 1], blocked, e);
                } else if (!tickets.granted(state, e)) {
                    blocked = grantForOwner(e, blocked);
                }
            } else {
                blocked = decideOne(batch, i, blocked, -1);
                i = nextNewcomer(i + 1, n);
                newcomerArrival = i < n ? arrivalOf(batch, i) : Double.POSITIVE_INFINITY;
            }
        }
        if (collect) {
            queueNewcomers(batch);
        }
    }

    /**
     * Marks which attempts of {@code batch} hold tickets ({@link #ticketed}, their positions in
     * {@link #ticketIndex}), collects the grants made for them, and drops the tickets of waiters that
     * left.
     */
    private void collectOwn(Batch batch, int head, int size) {
        Map<Long, Integer> waiters = indexWaiters(batch);
        for (int k = 0; k < size; k++) {
            int e = tickets.at(head, k);
            if (!tickets.live(state, e) || !tickets.mine(state, e, token)) {
                continue;
            }
            Integer i = waiters.get((long) state[e + Tickets.WAITER]);
            if (i == null) {
                dropOwnTicket(e);           // its waiter left
                continue;
            }
            ticketed[i] = true;
            ticketIndex[k] = i;
            if (tickets.granted(state, e)) {
                grantedSeq[i] = (long) state[e + Tickets.SEQ];
                tickets.drop(state, e);     // blocks nobody: no one needs to look
                copy.touchQueue();
            }
        }
    }

    /** Tickets for the newcomers of {@code batch} that must wait, in arrival order. */
    private void queueNewcomers(Batch batch) {
        boolean mayQueue = !closed;
        for (int i = 0, n = batch.size(); i < n; i++) {
            if (ticketed[i] || batch.isTry(i)) {
                continue;
            }
            long id = batch.id(i);
            if (grantedSeq[i] != 0) {
                arrivals.remove(id);
            } else if (mayQueue && takeTicket(batch, i, arrivalOf(batch, i))) {
                arrivals.remove(id);
            } else {
                mayQueue = false;
                arrivals.putIfAbsent(id, copy.reading);      // keeps its place for when one frees up
            }
        }
    }

    private int nextNewcomer(int from, int n) {
        int i = from;
        while (i < n && ticketed[i]) {
            i++;
        }
        return i;
    }

    /** When attempt {@code i} arrived, in state time: when this store first saw it, else now. */
    private double arrivalOf(Batch batch, int i) {
        if (batch.isTry(i) || arrivals.isEmpty()) {
            return copy.now;
        }
        Long first = arrivals.get(batch.id(i));
        return first == null ? copy.now : first - copy.epoch;
    }

    /**
     * Decides attempt {@code i} of this JVM (holding ticket {@code e}, or -1) behind the keys in
     * {@code blocked}; returns the keys now blocked.
     */
    private long decideOne(Batch batch, int i, long blocked, int e) {
        ResolvedRequest r = batch.request(i);
        copy.touch(r.touches());
        long behind = r.mask() & blocked;
        if (behind != 0) {
            shortOf[i] = behind;
            waitFor[i] = earliest(behind);
            return blocked;
        }
        long shortNow = algorithms.shortOf(state, copy.now, r);
        if (shortNow == 0) {
            grantedSeq[i] = algorithms.commit(state, copy.now, r);
            if (r.holdsResource()) {
                holders.add(state, file.slot, r, 1);
                copy.touchHolders();
            }
            if (e >= 0) {
                tickets.drop(state, e);
                copy.touchQueue();
                copy.move();           // others may have been queued behind it
            }
            return blocked;
        }
        shortOf[i] = shortNow;
        waitFor[i] = algorithms.waitTime(state, copy.now, r);
        if (batch.isTry(i)) {
            return blocked;             // a try never holds anyone up
        }
        note(shortNow, waitFor[i]);
        return blocked | shortNow;
    }

    /** Grants ticket {@code e} of another set or process for its owner if it can be granted now. */
    private long grantForOwner(int e, long blocked) {
        ResolvedRequest r = requestOf(e);
        if (r == null) {
            tickets.drop(state, e);
            copy.touchQueue();
            copy.move();
            return blocked;
        }
        if ((r.mask() & blocked) != 0) {
            return blocked;
        }
        copy.touch(r.touches());
        long shortNow = algorithms.shortOf(state, copy.now, r);
        if (shortNow != 0) {
            note(shortNow, algorithms.waitTime(state, copy.now, r));
            return blocked | shortNow;
        }
        long seq = algorithms.commit(state, copy.now, r);
        int slot = (int) state[e + Tickets.SLOT];
        if (r.holdsResource() && slot >= 0) {
            holders.add(state, slot, r, 1);
            copy.touchHolders();
        }
        tickets.grant(state, e, seq);
        copy.touchQueue();
        copy.move();                   // the owner collects it
        return blocked;
    }

    /** Takes a ticket for waiter {@code i}; false when the queue is full (later waiters then take none). */
    private boolean takeTicket(Batch batch, int i, double arrival) {
        if (tickets.take(state, token, batch.id(i), arrival, batch.request(i), file.slot)) {
            copy.touchQueue();
            queued = true;
            queueFullLogged = false;
            return true;
        }
        if (!queueFullLogged) {
            queueFullLogged = true;
            log.warn("shared-memory limit file {}: its queue holds {} waiting tickets; further waiters wait"
                    + " in their own JVM's order until places free up", file.path, Tickets.CAPACITY);
        }
        return false;
    }

    /** Drops this set's ticket {@code e}, giving back a grant made for it that nobody collected. */
    private void dropOwnTicket(int e) {
        long seq = (long) state[e + Tickets.SEQ];
        if (seq != 0) {
            ResolvedRequest r = requestOf(e);
            if (r != null) {
                settleLocked(r, seq, new double[r.size()]);
            }
        }
        tickets.drop(state, e);
        copy.touchQueue();
        copy.move();
    }

    /** The request of ticket {@code e}, resolved against this set (null if its words make no request). */
    private ResolvedRequest requestOf(int e) {
        double number = state[e + Tickets.NUMBER];
        ResolvedRequest cached = foreign.get(number);
        if (cached != null) {
            return cached;
        }
        if (foreign.size() > 4 * Tickets.CAPACITY) {
            foreign.clear();
        }
        Request request = null;
        for (int i = 0; i < algorithms.limits().size(); i++) {
            double amount = tickets.amount(state, e, i);
            if (amount >= 0) {
                String key = algorithms.limits().get(i).key();
                request = request == null ? Request.of(key, amount) : request.and(key, amount);
            }
        }
        try {
            ResolvedRequest r = request == null ? null : ResolvedRequest.resolve(definition, request);
            if (r != null) {
                foreign.put(number, r);
            }
            return r;
        } catch (IllegalArgumentException unreadable) {
            return null;
        }
    }

    private Map<Long, Integer> indexWaiters(Batch batch) {
        Map<Long, Integer> index = new HashMap<>();
        for (int i = 0, n = batch.size(); i < n; i++) {
            if (!batch.isTry(i)) {
                index.put(batch.id(i), i);
            }
        }
        return index;
    }

    /** Waiters short of the keys {@code keys} could be granted in {@code wait} ns at the earliest. */
    private void note(long keys, double wait) {
        for (long bits = keys; bits != 0; bits &= bits - 1) {
            int i = Long.numberOfTrailingZeros(bits);
            keyWait[i] = Math.min(keyWait[i], wait);
        }
    }

    /** When a waiter queued behind others on {@code keys} may be granted at the earliest. */
    private double earliest(long keys) {
        double wait = Double.POSITIVE_INFINITY;
        for (long bits = keys; bits != 0; bits &= bits - 1) {
            wait = Math.min(wait, keyWait[Long.numberOfTrailingZeros(bits)]);
        }
        return wait;
    }

    private void ensureDecisions(int n) {
        if (grantedSeq.length < n) {
            int size = Math.max(n, 2 * grantedSeq.length);
            grantedSeq = new long[size];
            shortOf = new long[size];
            waitFor = new double[size];
            ticketed = new boolean[size];
        }
    }

    /** A batch of one try, reused. */
    private static final class OneTry implements Batch {
        ResolvedRequest request;

        @Override
        public int size() {
            return 1;
        }

        @Override
        public ResolvedRequest request(int i) {
            return request;
        }

        @Override
        public long id(int i) {
            return 0;
        }

        @Override
        public boolean isTry(int i) {
            return true;
        }
    }

    // ---- the lock ---------------------------------------------------------------------------------

    /**
     * Takes the lock within {@code patience} ns ({@link LocalCopy#lock}) and applies pending work.
     * False if a live process kept the lock (nothing is held then).
     *
     * @throws IllegalStateException if the file can no longer be used (truncated, corrupted log)
     */
    private boolean lock(long patience) {
        if (!copy.lock(patience)) {
            return false;
        }
        try {
            applyPending();
        } catch (RuntimeException | Error e) {
            copy.abandon();
            throw e;
        }
        return true;
    }

    /** Publishes what changed and releases the lock. */
    private void unlock() {
        if (copy.unlock()) {
            file.wakeOthers(this);
        }
    }

    /** Applies, in order, what could not wait for the lock. */
    private void applyPending() {
        for (Pending p = pending.poll(); p != null; p = pending.poll()) {
            switch (p) {
                case Settlement s -> settleLocked(s.request(), s.seq(), s.used());
                case Left l -> dropTicketsOf(l.waiter());
                case Closed c -> dropTicketsOf(-1);
            }
        }
    }

    /** Drops this set's tickets of waiter {@code waiter} (-1: every one). */
    private void dropTicketsOf(long waiter) {
        for (int k = 0, head = tickets.head(state), size = tickets.size(state); k < size; k++) {
            int e = tickets.at(head, k);
            if (tickets.live(state, e) && tickets.mine(state, e, token)
                    && (waiter < 0 || state[e + Tickets.WAITER] == waiter)) {
                dropOwnTicket(e);
            }
        }
    }

    // ---- work that could not wait ----------------------------------------------------------------

    /** Applies pending work now if the lock is free; whether nothing is left pending. */
    private boolean flushOnce() {
        try {
            if (!lock(PATIENCE_NANOS)) {
                return false;
            }
        } catch (IllegalStateException unusable) {
            pending.clear();            // the file's state is lost: nothing left to apply
            return true;
        }
        try {
            unlock();
        } catch (IllegalStateException unusable) {
            pending.clear();
            return true;
        }
        return pending.isEmpty();
    }

    /** Starts a background thread that applies pending work as soon as the lock is free. */
    private void startFlusher() {
        if (flushing.compareAndSet(false, true)) {
            Thread.ofVirtual().name("concurry-shm-pending").start(this::flush);
        }
    }

    private void flush() {
        long backoff = 1_000_000;
        while (!flushOnce()) {
            LockSupport.parkNanos(backoff);
            backoff = Math.min(2 * backoff, FLUSH_BACKOFF_MAX_NANOS);
        }
        flushing.set(false);
        if (!pending.isEmpty()) {
            startFlusher();             // added after the last pass
        } else if (closed) {
            finishClose();
        }
    }

    // ---- waiting for other processes -------------------------------------------------------------

    @Override
    public void listen(BooleanSupplier redispatch) {
        this.redispatch = redispatch;
    }

    @Override
    public void waiters(boolean present) {
        if (!present) {
            watching = false;
            return;
        }
        if (!watching) {
            watching = true;
            int generation = ++watchGeneration;
            Thread thread = new Thread(() -> watch(generation), "concurry-shm-watcher-" + file.path.getFileName());
            thread.setDaemon(true);
            watcher = thread;
            thread.start();
        }
    }

    @Override
    public void left(long id) {
        arrivals.remove(id);
        if (queued) {
            pending.add(new Left(id));
            if (!watching) {
                startFlusher();         // no waiter left here: nothing else will take the lock soon
            }
        }
    }

    /** Has the engine decide again when the generation moves, while waiters remain. */
    private void watch(int generation) {
        long seen = generation();
        long idle = POLL_MIN_NANOS;
        long lastPass = System.nanoTime();
        while (watching && watchGeneration == generation && !file.broken()) {
            long g = generation();
            long t = System.nanoTime();
            if (g != seen || t - lastPass >= PERIODIC_MILLIS * 1_000_000L) {
                seen = g;
                lastPass = t;
                idle = POLL_MIN_NANOS;
                try {
                    if (!redispatch.getAsBoolean()) {
                        return;
                    }
                } catch (RuntimeException e) {
                    // Keep the waiters' timeouts working, retry later.
                    LockSupport.parkNanos(this, PERIODIC_MILLIS * 1_000_000L);
                }
            } else {
                LockSupport.parkNanos(this, idle);
                idle = Math.min(idle * 2, POLL_MAX_NANOS);
            }
        }
    }

    /** The file's generation word, or 0 once the mapping faults (the file broke: the watch ends). */
    private long generation() {
        try {
            return file.generation();
        } catch (InternalError fault) {
            file.faulted(fault);
            return 0;
        }
    }

    /** A release by another set of this JVM on the same file: decide again now. */
    void wake() {
        Thread thread = watcher;
        if (thread != null && watching) {
            LockSupport.unpark(thread);
        }
    }

    @Override
    public String describe() {
        return "shared-memory " + file.path;
    }

    /**
     * Drops this set's tickets (after the engine failed its waiters) and releases the file; if a live
     * process keeps the lock, a background thread does it once the lock is free.
     */
    @Override
    public void close() {
        watching = false;
        closed = true;
        pending.add(new Closed());
        if (flushOnce()) {
            finishClose();
        } else {
            startFlusher();
        }
    }

    private void finishClose() {
        if (finished.compareAndSet(false, true)) {
            file.stores.remove(this);
            file.release();
        }
    }
}
