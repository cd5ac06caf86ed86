package dev.concurry.limit;

import dev.concurry.limit.spi.Batch;
import dev.concurry.limit.spi.DecisionSink;
import dev.concurry.limit.spi.Feedback;
import dev.concurry.limit.spi.Probe;
import dev.concurry.limit.spi.Shortfall;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;
import dev.concurry.limit.spi.LocalStore;
import dev.concurry.limit.spi.RemoteStore;
import dev.concurry.limit.spi.ResolvedRequest;
import dev.concurry.limit.spi.StoreSnapshot;
import dev.concurry.time.MonotonicClock;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one limits engine under every backend (SPEC "central idea"): request resolution, the FIFO queue
 * of waiters, blocking / timeout / try / async acquisition, interrupts and cancellation, wake-ups, the
 * {@link Acquisition} handle, every counter of {@link LimitStats}, pool headroom and close. A backend
 * supplies only a {@link LimitStore}: storage and atomicity.
 *
 * <h2>Dispatch</h2>
 * A {@link LocalStore} is called inline under {@link #lock}: a try is one call; the waiters are decided
 * in one call whenever something may have changed (a waiter queued or left, units came back, a wake-up
 * fired). A {@link RemoteStore} is called single-flight: at most one {@code decide} call per set is in
 * flight; attempts that arrive meanwhile (tries included) queue and join the next call, so one round
 * trip decides many attempts (a group commit), and a trigger during a flight ({@link #again}) is never
 * lost. With a clock other than the system clock (a test's {@code ManualClock}), remote calls are
 * awaited on the thread that triggered them, so that advancing the clock is exact.
 *
 * <h2>Fairness and waiting</h2>
 * A store decides a batch in queue order, first-come first-served per key: a waiter short of a key
 * blocks later attempts on that key only. {@link #contended} remembers the keys queued waiters are short
 * of, so a newcomer needing one of them queues (or a try is refused) without overtaking. Waiting never
 * polls: the store says how long each waiter must wait, and one clock wake-up is scheduled for the
 * earliest; releases and refunds dispatch again at once. Threads are unparked and futures completed
 * after the lock is released; futures complete on a virtual thread, so user callbacks never run under
 * the lock or on the timer thread.
 *
 * <h2>Listening to the provider</h2>
 * {@link #observe} turns a {@link ProviderReport} into a {@link Feedback} per limit (durations from now,
 * the scale of an adopted limit) for the store, which records it in the shared state where the
 * algorithms honour it ({@code SetAlgorithms#observe}); then the queue is decided again, since a
 * budget may have grown. What this JVM heard (the last limit and remaining per key, pauses) is kept
 * here for statistics. Once a report about a grant was observed, this JVM's recent grants are kept in
 * a ring ({@link #recentGrants}): a report's budget excludes the grants made after the call it answers,
 * which the provider may not have counted when it answered (calls in flight, answers read late). A
 * grant the provider had counted is then counted twice until the next report: stricter, never more
 * generous.
 *
 * <h2>Counters</h2>
 * Every counter (grants, refunds, charges, timeouts, rejections, waits) is this JVM's count for this
 * set, kept here for every backend alike; {@code available} and {@code inUse} come from the store and
 * are shared by every process using the set.
 */
final class LimitEngine implements LimitSet, Probe {
    private static final Logger log = LoggerFactory.getLogger(LimitEngine.class);
    private static final Executor COMPLETIONS = Executors.newVirtualThreadPerTaskExecutor();
    /** Usage reported for a key may not exceed this many times its capacity (an absurd charge). */
    static final double MAX_USAGE_FACTOR = 1e6;
    /** Most attempts decided by one remote call. */
    private static final int BATCH = 64;

    private static final int WAITING = 0;
    private static final int GRANTED = 1;
    private static final int TIMED_OUT = 2;
    private static final int WITHDRAWN = 3;
    private static final int CLOSED = 4;
    private static final int REFUSED = 5;
    private static final int FAILED = 6;

    private final LimitSetDefinition definition;
    private final List<Limit> specs;
    private final LimitBackend backend;
    private final LimitStore store;
    private final LocalStore local;
    private final RemoteStore remote;
    private final MonotonicClock clock;
    private final boolean fastPath;
    private final boolean awaitRemote;
    private final ReentrantLock lock = new ReentrantLock();
    private final LongAdder fastGranted = new LongAdder();
    /** No waiter is queued and the set is open: the store's lock-free path may grant. */
    private volatile boolean idle = true;

    // Everything below is guarded by lock.
    private Waiter head;
    private Waiter tail;
    private long contended;
    private MonotonicClock.Wakeup wakeup;
    private long wakeupAt = Long.MAX_VALUE;
    private boolean closed;
    private boolean inFlight;
    private boolean again;
    /** Ids of this set's waiters ({@link Batch#id}). */
    private long waiterIds;
    /**
     * The round local stores decide in, created when the first waiter queues and reused. Everything
     * an engine needs only once someone waits or settles is created then: a keyed family holds one
     * engine per key (SPEC L24), most of them never contended.
     */
    private Round localRound;
    private long granted;
    private long timedOut;
    private long rejected;
    private long waits;
    private long waitedNanos;
    private double refunded;
    private double charged;
    /** Per limit, created by the first settlement that refunds or charges. */
    private double[] refundedByKey;
    private double[] chargedByKey;
    /**
     * Remote stores only (null for local ones, which are read directly): what each limit had available
     * after the last call that touched it (a pool's hint).
     */
    private final double[] knownAvailable;
    /** Whether reported provider limits replace the configured capacities (SPEC F4). */
    private final boolean adoptProviderLimits;
    /** Per limit, what the provider last said, as this JVM heard it (under the lock); created by the first report. */
    private Heard[] heard;
    private long reports;
    private long refusals;
    private long pauses;
    private long unparsed;
    private volatile long lastObserveWarning = Long.MIN_VALUE;
    /** Grants of this JVM, newest last, once a report about a grant was observed (null before). */
    private volatile java.util.concurrent.atomic.AtomicReferenceArray<Grant> recentGrants;
    /** Grants put in {@link #recentGrants} (through {@link #RECENT_COUNT}). */
    private volatile long recentCount;
    /** Grants remembered in {@link #recentGrants}: more than can be in flight at once. */
    private static final int RECENT_GRANTS = 512;

    LimitEngine(LimitSetDefinition definition, LimitBackend backend, LimitStore store, boolean adoptProviderLimits) {
        this.definition = definition;
        this.specs = definition.limits();
        this.backend = backend;
        this.store = store;
        this.local = store instanceof LocalStore l ? l : null;
        this.remote = store instanceof RemoteStore r ? r : null;
        if ((local == null) == (remote == null)) {
            throw new IllegalArgumentException("a LimitStore must be either a LocalStore or a RemoteStore: " + store);
        }
        this.clock = Objects.requireNonNull(store.clock(), "store.clock()");
        this.fastPath = local != null && local.hasFastPath();
        this.awaitRemote = clock != MonotonicClock.system();
        if (remote != null) {
            this.knownAvailable = new double[specs.size()];
            for (int i = 0; i < knownAvailable.length; i++) {
                knownAvailable[i] = specs.get(i).capacity();
            }
        } else {
            this.knownAvailable = null;
        }
        this.adoptProviderLimits = adoptProviderLimits;
        store.listen(this::redispatch);
    }

    @Override
    public String name() {
        return definition.name();
    }

    @Override
    public List<Limit> limits() {
        return specs;
    }

    @Override
    public Map<String, String> config() {
        return definition.config();
    }

    @Override
    public LimitBackend backend() {
        return backend;
    }

    // ---- acquiring -------------------------------------------------------------------------------

    @Override
    public Acquisition acquire(Request request) {
        return acquireBlocking(request, -1);
    }

    @Override
    public Acquisition acquire(Request request, Duration timeout) {
        return acquireBlocking(request, timeoutNanos(timeout));
    }

    @Override
    public Optional<Acquisition> tryAcquire(Request request) {
        // Kept small so it inlines into the caller, where the Optional usually never escapes.
        return Optional.ofNullable(tryAcquireOrNull(request));
    }

    private Acquisition tryAcquireOrNull(Request request) {
        return tryOnce(request, resolve(request));
    }

    @Override
    public Attempt attempt(Request request) {
        ResolvedRequest r = resolve(request);
        Acquisition now = local != null ? tryFast(r) : null;
        if (now != null) {
            return new Attempt.Granted(now);
        }
        if (local == null) {
            Waiter w = new Waiter(request, r, Thread.currentThread(), null, true);
            now = remoteTry(r, w);
            if (now != null) {
                return new Attempt.Granted(now);
            }
            lock.lock();
            try {
                countRefusalLocked(false);
                return new Attempt.Refused(w.state == REFUSED
                        ? refusalOf(w, clock.nanoTime())
                        : refusalLocked(request, r, 0, Double.NaN, r.mask() & contended));
            } finally {
                lock.unlock();
            }
        }
        lock.lock();
        try {
            checkOpen();
            now = tryGrantLocked(r);
            if (now != null) {
                return new Attempt.Granted(now);
            }
            countRefusalLocked(false);
            return new Attempt.Refused(explainLocked(request, r));
        } finally {
            lock.unlock();
        }
    }

    @Override
    public CompletableFuture<Acquisition> acquireAsync(Request request, Duration timeout) {
        long nanos;
        try {
            nanos = timeoutNanos(timeout);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        return acquireAsync(request, nanos);
    }

    /** Grants {@code r} now or returns null, never waiting for capacity; a refusal counts as rejected. */
    private Acquisition tryOnce(Request request, ResolvedRequest r) {
        Acquisition now;
        if (local == null) {
            now = remoteTry(r, new Waiter(request, r, Thread.currentThread(), null, true));
            if (now == null) {
                lock.lock();
                try {
                    countRefusalLocked(false);
                } finally {
                    lock.unlock();
                }
            }
            return now;
        }
        now = tryFast(r);
        if (now != null) {
            return now;
        }
        lock.lock();
        try {
            checkOpen();
            now = tryGrantLocked(r);
            if (now == null) {
                countRefusalLocked(false);
            }
            return now;
        } finally {
            lock.unlock();
        }
    }

    private void countRefusalLocked(boolean asTimeout) {
        if (asTimeout) {
            timedOut++;
        } else {
            rejected++;
        }
    }

    @Override
    public CompletableFuture<Acquisition> acquireAsync(Request request) {
        return acquireAsync(request, -1);
    }

    private CompletableFuture<Acquisition> acquireAsync(Request request, long timeoutNanos) {
        ResolvedRequest r;
        try {
            r = resolve(request);
        } catch (IllegalArgumentException e) {
            return CompletableFuture.failedFuture(e);
        }
        CompletableFuture<Acquisition> future = new CompletableFuture<>();
        // A zero timeout on a remote store is one decision, like a try: refused, it times out.
        Waiter w = new Waiter(request, r, null, future, remote != null && timeoutNanos == 0);
        Waiter signalled;
        lock.lock();
        try {
            if (closed) {
                return CompletableFuture.failedFuture(closedException());
            }
            if (local != null) {
                Acquisition now = tryGrantLocked(r);
                if (now != null) {
                    future.complete(now);
                    return future;
                }
            }
            if (timeoutNanos == 0 && (local != null || (r.mask() & contended) != 0)) {
                countRefusalLocked(true);
                return CompletableFuture.failedFuture(timeoutException(request, 0, explainLocked(request, r)));
            }
            w.refused = local != null;
            enqueueLocked(w);
            signalled = local != null ? dispatchLocked() : null;
            if (timeoutNanos > 0 && w.state == WAITING) {
                w.deadline = clock.wakeAt(deadline(timeoutNanos), () -> expireAsync(w, request, timeoutNanos));
            }
        } finally {
            lock.unlock();
        }
        deliver(signalled);
        if (remote != null) {
            kick();
        }
        future.whenComplete((acquisition, failure) -> {
            if (failure != null) {
                withdraw(w, failure instanceof TimeoutException);
            }
        });
        return future;
    }

    private Acquisition acquireBlocking(Request request, long timeoutNanos) {
        ResolvedRequest r = resolve(request);
        if (timeoutNanos == 0) {
            Attempt now = attempt(request);
            if (now instanceof Attempt.Refused refused) {
                lock.lock();
                try {
                    rejected--;             // counted as a refused attempt: it is a timeout
                    timedOut++;
                } finally {
                    lock.unlock();
                }
                throw timeoutException(request, 0, refused.refusal());
            }
            return ((Attempt.Granted) now).acquisition();
        }
        Acquisition fast = tryFast(r);
        if (fast != null) {
            return fast;
        }
        Waiter w = new Waiter(request, r, Thread.currentThread(), null, false);
        Waiter signalled = null;
        lock.lock();
        try {
            checkOpen();
            if (local != null) {
                Acquisition now = tryGrantLocked(r);
                if (now != null) {
                    return now;
                }
            }
            w.refused = local != null;     // a local store refused it just now; a remote one decides it next
            enqueueLocked(w);
            if (local != null) {
                signalled = dispatchLocked();
            }
            if (timeoutNanos > 0 && w.state == WAITING) {
                w.deadline = clock.wakeAt(deadline(timeoutNanos), () -> expire(w));
            }
        } finally {
            lock.unlock();
        }
        deliver(signalled);
        if (remote != null) {
            kick();
        }
        while (w.state == WAITING) {
            LockSupport.park(this);
            if (Thread.interrupted()) {
                withdraw(w, false);
                if (w.state == GRANTED) {
                    ((Grant) w.result).giveBack();
                }
                Thread.currentThread().interrupt();
                throw new AcquireInterruptedException("interrupted while waiting for " + request + " from set '"
                        + name() + "'; nothing was taken", new InterruptedException());
            }
        }
        return switch (w.state) {
            case GRANTED -> w.result;
            case TIMED_OUT -> throw timeoutException(request, timeoutNanos, freshFacts(w.refusal));
            case FAILED -> throw failure(w);
            default -> throw closedException();
        };
    }

    /**
     * A remote store's refusal at a timeout, with what its keys have available now (one read: the last
     * call's figures may be old); as it was if the read fails. Local refusals are fresh already.
     */
    private Refusal freshFacts(Refusal refusal) {
        if (remote == null || refusal == null) {
            return refusal;
        }
        try {
            return withAvailable(refusal, await(remote.snapshot()));
        } catch (RuntimeException e) {
            return refusal;
        }
    }

    private Refusal withAvailable(Refusal refusal, StoreSnapshot snapshot) {
        List<Refusal.Shortage> shortages = new java.util.ArrayList<>(refusal.shortages().size());
        for (Refusal.Shortage s : refusal.shortages()) {
            int i = indexOf(s.key());
            shortages.add(new Refusal.Shortage(s.key(), s.requested(), snapshot.available(i), s.capacity()));
        }
        return new Refusal(refusal.set(), refusal.config(), refusal.request(), shortages, refusal.grantableIn(),
                refusal.queuedBehind());
    }

    private int indexOf(String key) {
        for (int i = 0; i < specs.size(); i++) {
            if (specs.get(i).key().equals(key)) {
                return i;
            }
        }
        throw new IllegalArgumentException("unknown key '" + key + "'");
    }

    private long deadline(long timeoutNanos) {
        long deadline = clock.nanoTime() + timeoutNanos;
        return deadline < 0 ? Long.MAX_VALUE : deadline;
    }

    /** The store's lock-free grant while nobody waits, or null to take the locked path. */
    private Acquisition tryFast(ResolvedRequest r) {
        if (fastPath && idle) {
            long seq = local.tryGrantFast(r);
            if (seq > 0) {
                fastGranted.increment();
                return new Grant(r, seq);
            }
        }
        return null;
    }

    /** Grants {@code r} now from a local store unless a waiter is short of one of its keys; else null. */
    private Acquisition tryGrantLocked(ResolvedRequest r) {
        if ((r.mask() & contended) != 0) {
            return null;
        }
        long seq = local.tryGrant(r);
        if (seq == 0) {
            return null;
        }
        granted++;
        return new Grant(r, seq);
    }

    /**
     * A try on a remote store: refused at once behind a waiter short of its keys, else it joins the
     * next call and waits for its answer (never for capacity). Waiting for the round trip is not
     * interruptible (the store bounds it); the interrupt status is kept.
     */
    private Acquisition remoteTry(ResolvedRequest r, Waiter w) {
        lock.lock();
        try {
            checkOpen();
            if ((r.mask() & contended) != 0) {
                return null;
            }
            enqueueLocked(w);
        } finally {
            lock.unlock();
        }
        kick();
        boolean interrupted = false;
        while (w.state == WAITING) {
            LockSupport.park(this);
            interrupted |= Thread.interrupted();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return switch (w.state) {
            case GRANTED -> w.result;
            case REFUSED -> null;
            case FAILED -> throw failure(w);
            default -> throw closedException();
        };
    }

    // ---- the waiter queue ------------------------------------------------------------------------

    private void enqueueLocked(Waiter w) {
        w.since = clock.nanoTime();
        w.id = ++waiterIds;
        boolean wasEmpty = head == null;
        if (tail == null) {
            head = w;
        } else {
            tail.next = w;
            w.prev = tail;
        }
        tail = w;
        idle = false;
        if (wasEmpty) {
            store.waiters(true);
        }
    }

    private void unlinkLocked(Waiter w) {
        if (w.prev == null) {
            head = w.next;
        } else {
            w.prev.next = w.next;
        }
        if (w.next == null) {
            tail = w.prev;
        } else {
            w.next.prev = w.prev;
        }
        w.prev = null;
        w.next = null;
        if (head == null) {
            contended = 0;
            idle = !closed;
            store.waiters(false);
        }
    }

    /** Marks {@code w} granted with grant {@code seq}, out of the queue; counts its wait. */
    private void grantLocked(Waiter w, long seq, long now) {
        unlinkLocked(w);
        w.result = new Grant(w.request, seq);
        w.state = GRANTED;
        granted++;
        if (w.refused) {
            waits++;
            waitedNanos += Math.max(0, now - w.since);
        }
    }

    /**
     * Local stores: decides every queued waiter in one store call and schedules one wake-up for the
     * earliest moment a remaining one could be granted. Returns the granted waiters (a chain through
     * {@link Waiter#nextSignal}) for {@link #deliver} once the lock is released.
     */
    private Waiter dispatchLocked() {
        if (head == null) {
            return null;
        }
        Round round = localRound;
        if (round == null) {
            round = localRound = new Round(specs.size(), 16);
        }
        round.clear();
        for (Waiter w = head; w != null; w = w.next) {
            round.add(w);
        }
        long base = local.decide(round, round);
        return applyLocked(round, base);
    }

    /**
     * Applies a round's decisions to its waiters: grants (a waiter that left meanwhile has its grant
     * collected in {@link Round#abandoned} to be given back), refuses tries, and for the waiters that
     * still wait, records the keys they are short of and schedules one wake-up for the earliest
     * moment one could be granted. Returns the waiters to signal (a chain through
     * {@link Waiter#nextSignal}, in queue order).
     */
    private Waiter applyLocked(Round round, long base) {
        long shortOf = 0;
        double earliest = Double.POSITIVE_INFINITY;
        Waiter chain = null;
        for (int i = round.size - 1; i >= 0; i--) {
            Waiter w = round.items[i];
            round.items[i] = null;
            if (round.granted[i]) {
                if (w.state == WAITING) {
                    grantLocked(w, round.seq[i], base);
                    w.nextSignal = chain;
                    chain = w;
                } else {
                    // It left (timeout, interrupt, cancel, close) while a remote call ran: give back.
                    round.abandon(new Grant(w.request, round.seq[i]));
                }
            } else if (w.state != WAITING) {
                continue;
            } else if (w.isTry) {
                w.lastShortOf = round.decided[i] ? round.shortOf[i] : 0;
                w.lastWait = round.decided[i] ? round.wait[i] : Double.NaN;
                w.lastBase = base;
                if (w.future != null) {                 // acquireAsync with a zero timeout: it times out
                    timedOut++;
                    w.refusal = refusalOf(w, base);
                }
                unlinkLocked(w);
                w.state = REFUSED;
                w.nextSignal = chain;
                chain = w;
            } else if (round.decided[i]) {
                w.refused = true;
                w.lastShortOf = round.shortOf[i];
                w.lastWait = round.wait[i];
                w.lastBase = base;
                shortOf |= round.shortOf[i];
                if (round.wait[i] < earliest) {
                    earliest = round.wait[i];
                }
            }
        }
        contended = head == null ? 0 : shortOf;
        earliest = Math.min(earliest, round.recheck);
        for (int i = 0; knownAvailable != null && i < knownAvailable.length; i++) {
            if (!Double.isNaN(round.available[i])) {
                knownAvailable[i] = round.available[i];
            }
        }
        scheduleLocked(base, earliest);
        return chain;
    }

    /** One wake-up at the earliest instant a waiter could be granted ({@code wait} ns after {@code base}). */
    private void scheduleLocked(long base, double wait) {
        if (head == null || closed || !(wait < Double.POSITIVE_INFINITY)) {
            return;
        }
        // Saturating: a huge debt (a charge far above capacity) must not overflow into the past.
        long delay = Math.max((long) Math.ceil(wait - 1e-6), 1);
        long at = delay >= Long.MAX_VALUE - base ? Long.MAX_VALUE : base + delay;
        if (at < wakeupAt) {
            if (wakeup != null) {
                wakeup.cancel();
            }
            wakeupAt = at;
            wakeup = clock.wakeAt(at, this::onWakeup);
        }
    }

    private void onWakeup() {
        Waiter signalled = null;
        lock.lock();
        try {
            wakeup = null;
            wakeupAt = Long.MAX_VALUE;
            if (local != null) {
                signalled = dispatchLocked();
            }
        } finally {
            lock.unlock();
        }
        deliver(signalled);
        if (remote != null) {
            kick();
        }
    }

    /** Decides the queue again (units came back elsewhere); whether waiters remain. */
    private boolean redispatch() {
        Waiter signalled = null;
        lock.lock();
        try {
            if (head == null) {
                return false;
            }
            if (local != null) {
                signalled = dispatchLocked();
            }
        } finally {
            lock.unlock();
        }
        deliver(signalled);
        if (remote != null) {
            kick();
        }
        return true;
    }

    // ---- remote dispatch -------------------------------------------------------------------------

    /** Starts a remote call for the queue unless one is in flight (then it is repeated when done). */
    private void kick() {
        Round flight;
        lock.lock();
        try {
            if (inFlight) {
                again = true;
                return;
            }
            flight = nextFlightLocked();
        } finally {
            lock.unlock();
        }
        if (flight != null) {
            send(flight);
        }
    }

    /** The next batch to send, marking a call in flight; null (and nothing in flight) if none is queued. */
    private Round nextFlightLocked() {
        again = false;
        if (head == null || closed) {
            inFlight = false;
            return null;
        }
        inFlight = true;
        Round flight = new Round(specs.size(), BATCH);
        for (Waiter w = head; w != null && flight.size < BATCH; w = w.next) {
            flight.add(w);
        }
        return flight;
    }

    private void send(Round flight) {
        while (flight != null) {
            CompletableFuture<Long> call;
            try {
                call = remote.decide(flight, flight);
            } catch (RuntimeException | Error e) {
                call = CompletableFuture.failedFuture(e);
            }
            if (!awaitRemote && !call.isDone()) {
                Round sent = flight;
                call.whenComplete((base, failure) -> {
                    Round next = decided(sent, base, failure);
                    if (next != null) {
                        send(next);
                    }
                });
                return;
            }
            Long base = null;
            Throwable failure = null;
            try {
                base = await(call);
            } catch (RuntimeException e) {
                failure = e;
            }
            flight = decided(flight, base, failure);
        }
    }

    /** Applies a remote call's decisions; returns the next flight to send, if any. */
    private Round decided(Round flight, Long base, Throwable failure) {
        Waiter signalled = null;
        Round next;
        lock.lock();
        try {
            if (failure != null) {
                RuntimeException e = unwrap(failure);
                for (int i = 0; i < flight.size; i++) {
                    Waiter w = flight.items[i];
                    if (w.state == WAITING) {
                        unlinkLocked(w);
                        w.failure = e;
                        w.state = FAILED;
                        w.nextSignal = signalled;
                        signalled = w;
                    }
                }
            } else {
                boolean full = flight.size == BATCH;
                boolean anyGranted = flight.anyGranted();
                signalled = applyLocked(flight, base);
                if (wakeupAt <= clock.nanoTime() || anyGranted && full) {
                    again = true;
                }
            }
            next = again ? nextFlightLocked() : null;
            if (next == null) {
                inFlight = false;
            }
        } finally {
            lock.unlock();
        }
        deliver(signalled);
        flight.giveBackAbandoned();
        return next;
    }

    // ---- leaving the queue -----------------------------------------------------------------------

    /** Signals decided waiters, outside the lock. */
    private void deliver(Waiter w) {
        while (w != null) {
            Waiter next = w.nextSignal;
            w.nextSignal = null;
            MonotonicClock.Wakeup deadline = w.deadline;
            if (deadline != null) {
                deadline.cancel();
            }
            signal(w);
            w = next;
        }
    }

    private void signal(Waiter w) {
        if (w.thread != null) {
            LockSupport.unpark(w.thread);
        } else if (w.state == GRANTED) {
            Acquisition result = w.result;
            COMPLETIONS.execute(() -> {
                if (!w.future.complete(result)) {
                    ((Grant) result).giveBack();    // cancelled meanwhile: nothing may stay taken
                }
            });
        } else if (w.state == FAILED) {
            RuntimeException e = w.failure;
            COMPLETIONS.execute(() -> w.future.completeExceptionally(e));
        } else if (w.state == CLOSED) {
            COMPLETIONS.execute(() -> w.future.completeExceptionally(closedException()));
        } else if (w.state == REFUSED) {
            AcquireTimeoutException e = timeoutException(w.original, 0, w.refusal);
            COMPLETIONS.execute(() -> w.future.completeExceptionally(e));
        }
    }

    /** Timeout of a blocking waiter. */
    private void expire(Waiter w) {
        if (leave(w, TIMED_OUT, true)) {
            LockSupport.unpark(w.thread);
        }
    }

    /** Timeout of an async waiter with a deadline: its future fails with the facts. */
    private void expireAsync(Waiter w, Request request, long timeoutNanos) {
        if (leave(w, TIMED_OUT, true)) {
            COMPLETIONS.execute(() -> w.future.completeExceptionally(
                    timeoutException(request, timeoutNanos, freshFacts(w.refusal))));
        }
    }

    /** A waiter gives up (interrupt, cancelled or failed future); its leaving may unblock others. */
    private void withdraw(Waiter w, boolean timedOutNow) {
        if (leave(w, WITHDRAWN, timedOutNow)) {
            MonotonicClock.Wakeup deadline = w.deadline;
            if (deadline != null) {
                deadline.cancel();
            }
        }
    }

    /**
     * Takes a still-waiting {@code w} out of the queue into {@code newState} and decides again for whoever
     * its leaving unblocks; false if it was no longer waiting (granted, timed out or closed meanwhile).
     */
    private boolean leave(Waiter w, int newState, boolean countTimeout) {
        Waiter signalled = null;
        lock.lock();
        try {
            if (w.state != WAITING) {
                return false;
            }
            unlinkLocked(w);
            w.state = newState;
            if (newState == TIMED_OUT) {
                w.refusal = refusalOf(w, clock.nanoTime());
            }
            if (countTimeout) {
                timedOut++;
            }
            store.left(w.id);
            if (local != null) {
                signalled = dispatchLocked();
            }
        } finally {
            lock.unlock();
        }
        deliver(signalled);
        if (remote != null) {
            kick();
        }
        return true;
    }

    // ---- settling --------------------------------------------------------------------------------

    private void settle(Grant g) {
        ResolvedRequest r = g.request;
        double[] used = g.used;
        if (fastPath && used == null && idle && local.releaseFast(r, g.seq)) {
            if (!idle) {
                redispatch();       // a waiter queued before the release: decide it now
            }
            return;
        }
        if (local != null) {
            Waiter signalled = null;
            lock.lock();
            try {
                local.settle(r, g.seq, used);
                countSettledLocked(r, used);
                signalled = dispatchLocked();
            } catch (RuntimeException e) {
                log.warn("could not settle {} of limit set '{}': {}", r.granted(), name(), e.toString());
            } finally {
                lock.unlock();
            }
            deliver(signalled);
            return;
        }
        if (g.seq == 0) {
            return;     // granted without limits (fail-open): nothing was counted
        }
        boolean freed;
        try {
            freed = await(remote.settle(r, g.seq, used));
        } catch (RuntimeException e) {
            log.warn("could not settle {} of limit set '{}' on {}: {}", r.granted(), name(), store.describe(),
                    e.toString());
            return;
        }
        lock.lock();
        try {
            countSettledLocked(r, used);
        } finally {
            lock.unlock();
        }
        if (freed) {
            kick();
        }
    }

    private void countSettledLocked(ResolvedRequest r, double[] used) {
        if (used == null) {
            return;
        }
        for (int j = 0; j < r.size(); j++) {
            int i = r.limitIndex(j);
            double amount = r.amount(j);
            if (isResource(i) || Double.isNaN(used[j]) || used[j] == amount) {
                continue;
            }
            if (refundedByKey == null) {
                refundedByKey = new double[specs.size()];
                chargedByKey = new double[specs.size()];
            }
            if (used[j] < amount) {
                refunded += amount - used[j];
                refundedByKey[i] += amount - used[j];
            } else {
                charged += used[j] - amount;
                chargedByKey[i] += used[j] - amount;
            }
        }
    }

    // ---- listening to the provider ---------------------------------------------------------------

    @Override
    public void observe(ProviderReport report) {
        observe(report, null);
    }

    /**
     * SPEC F2–F4 (see {@link LimitSet#observe}): records what this JVM heard, hands the store a
     * {@link Feedback} for the shared state, decides the queue again and, for a refused call made under
     * {@code grant}, stops counting its reservation. Never throws for what the report says; a store
     * that fails is logged.
     */
    private void observe(ProviderReport report, Grant grant) {
        Objects.requireNonNull(report, "report");
        int n = specs.size();
        double[] remaining = new double[n];
        double[] reset = new double[n];
        double[] pause = new double[n];
        double[] scale = new double[n];
        Arrays.fill(remaining, Double.NaN);
        Arrays.fill(reset, Double.NaN);
        Arrays.fill(pause, Double.NaN);
        Arrays.fill(scale, Double.NaN);
        boolean paused = false;
        long refusedKeys = 0;
        double[] after = grant == null ? null : grantedAfter(grant.seq);
        lock.lock();
        try {
            if (closed) {
                return;
            }
            long now = clock.nanoTime();
            if (heard == null) {
                heard = new Heard[n];
                for (int i = 0; i < n; i++) {
                    heard[i] = new Heard();
                }
            }
            reports++;
            unparsed += report.unparsed();
            if (report.refused()) {
                refusals++;
            }
            for (int i = 0; i < n; i++) {
                if (isResource(i)) {
                    continue;
                }
                Limit limit = specs.get(i);
                Heard h = heard[i];
                ProviderReport.Quota q = report.quotas().get(limit.key());
                if (q != null) {
                    if (q.remaining().isPresent()) {
                        remaining[i] = Math.max(0, q.remaining().getAsDouble() - (after == null ? 0 : after[i]));
                        reset[i] = nanos(q.resetIn().orElse(windowOf(limit)));
                        h.remaining = remaining[i];
                        h.resetAt = saturatedAdd(now, reset[i]);
                    }
                    if (q.limit().isPresent()) {
                        scale[i] = heardLimit(i, q.limit().getAsDouble(), q.window());
                    }
                }
                if (report.pauses(limit.key())) {
                    pause[i] = nanos(report.retryAfter().orElseThrow());
                    h.pausedUntil = Math.max(h.pausedUntil, saturatedAdd(now, pause[i]));
                    paused |= pause[i] > 0;
                }
                if (report.refused() && (report.pauseKeys().isEmpty() || report.pauseKeys().contains(limit.key()))) {
                    refusedKeys |= 1L << i;
                }
            }
            if (paused) {
                pauses++;
            }
        } finally {
            lock.unlock();
        }
        if (grant != null && refusedKeys != 0) {
            grant.notUsed(refusedKeys);
        }
        Feedback feedback = new Feedback(remaining, reset, pause, scale, grant != null ? grant.seq : -1);
        if (feedback.touches() != 0) {
            record(feedback);
        }
    }

    /**
     * Per limit, the units of this JVM's grants made after grant {@code seq} (as reserved), from the ring
     * of recent grants; starts the ring on the first call (grants before it are unknown: none counted).
     */
    private double[] grantedAfter(long seq) {
        var recent = recentGrants;
        double[] units = new double[specs.size()];
        if (recent == null) {
            recentGrants = new java.util.concurrent.atomic.AtomicReferenceArray<>(RECENT_GRANTS);
            return units;
        }
        for (int k = 0; k < RECENT_GRANTS; k++) {
            Grant g = recent.get(k);
            if (g != null && g.seq > seq) {
                for (int j = 0; j < g.request.size(); j++) {
                    units[g.request.limitIndex(j)] += g.request.amount(j);
                }
            }
        }
        return units;
    }

    /** Hands {@code feedback} to the store and decides the waiters again; a failure is logged, not thrown. */
    private void record(Feedback feedback) {
        try {
            if (local != null) {
                Waiter signalled;
                lock.lock();
                try {
                    if (closed) {
                        return;
                    }
                    local.observe(feedback);
                    signalled = dispatchLocked();
                } finally {
                    lock.unlock();
                }
                deliver(signalled);
            } else {
                await(remote.observe(feedback));
                kick();
            }
        } catch (RuntimeException e) {
            long t = System.nanoTime();
            if (lastObserveWarning == Long.MIN_VALUE || t - lastObserveWarning > 10_000_000_000L) {
                lastObserveWarning = t;
                log.warn("limit set '{}' on {} could not record what the provider reported: {}", name(),
                        store.describe(), e.toString());
            }
        }
    }

    /**
     * Notes a reported limit {@code reported} (per {@code window}, when given) for limit {@code i}
     * (under the lock): compared with the capacity when the windows agree, logged once per key if it
     * differs; returns the scale to record (NaN: none).
     */
    private double heardLimit(int i, double reported, Optional<Duration> window) {
        Limit limit = specs.get(i);
        Heard h = heard[i];
        h.limit = reported;
        boolean comparable = window.isEmpty() || window.get().equals(windowOf(limit));
        h.limitDiffers = comparable && reported != limit.capacity();
        if (h.limitDiffers && !h.logged) {
            h.logged = true;
            log.info("the provider reports a limit of {} for '{}' of limit set '{}', configured with {} per {}; {}",
                    reported, limit.key(), name(), limit.capacity(), windowOf(limit),
                    adoptProviderLimits
                            ? "adopting it"
                            : "keeping the configured one (adoptProviderLimits(true) adopts"
                                    + " reported limits)");
        }
        if (!adoptProviderLimits || !comparable || !(reported > 0)) {
            return Double.NaN;
        }
        h.adopted = h.limitDiffers;
        return limit.capacity() / reported;
    }

    private static Duration windowOf(Limit limit) {
        return switch (limit) {
            case RateLimit rate -> rate.window();
            case CallLimit call -> call.window();
            case ResourceLimit resource -> Duration.ZERO;
        };
    }

    /** {@code d} in nanoseconds as a double (no overflow for any duration). */
    private static double nanos(Duration d) {
        return d.getSeconds() * 1e9 + d.getNano();
    }

    private static long saturatedAdd(long now, double nanos) {
        return nanos >= (double) (Long.MAX_VALUE - now) ? Long.MAX_VALUE : now + (long) Math.ceil(nanos);
    }

    private ProviderFeedback heardLocked(int i, long now) {
        if (heard == null) {
            return ProviderFeedback.NONE;
        }
        Heard h = heard[i];
        if (Double.isNaN(h.limit) && Double.isNaN(h.remaining) && h.pausedUntil == Long.MIN_VALUE) {
            return ProviderFeedback.NONE;
        }
        Optional<Duration> resetIn = Double.isNaN(h.remaining)
                ? Optional.empty()
                : Optional.of(Duration.ofNanos(Math.max(0, h.resetAt - now)));
        Duration pausedFor = Duration.ofNanos(h.pausedUntil > now ? h.pausedUntil - now : 0);
        return new ProviderFeedback(Double.isNaN(h.limit)
                ? OptionalDouble.empty()
                : OptionalDouble.of(h.limit),
                Double.isNaN(h.remaining)
                        ? OptionalDouble.empty()
                        : OptionalDouble.of(h.remaining),
                resetIn, pausedFor, h.limitDiffers, h.adopted);
    }

    /** What the provider last said about one limit, as this JVM heard it (guarded by the engine's lock). */
    private static final class Heard {
        double limit = Double.NaN;
        double remaining = Double.NaN;
        long resetAt;
        long pausedUntil = Long.MIN_VALUE;
        boolean limitDiffers;
        boolean adopted;
        boolean logged;
    }

    // ---- stats and lifecycle ---------------------------------------------------------------------

    /**
     * For a {@link LimitPool}: the smallest fraction of capacity left once {@code request} would be
     * granted; negative when it cannot be granted now; {@link Double#NEGATIVE_INFINITY} when a waiter is
     * short of one of its keys. A local store is read now; a remote store is not asked: what its last
     * call reported stands in (no round trip per pool acquisition).
     */
    @Override
    public double headroom(Request request) {
        ResolvedRequest r = resolve(request);
        lock.lock();
        try {
            if ((r.mask() & contended) != 0) {
                return Double.NEGATIVE_INFINITY;
            }
            if (local != null) {
                return local.headroom(r);
            }
            double least = 1;
            for (int j = 0; j < r.size(); j++) {
                int i = r.limitIndex(j);
                if (r.amount(j) > 0) {
                    least = Math.min(least, (knownAvailable[i] - r.amount(j)) / specs.get(i).capacity());
                }
            }
            return least;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public Optional<Refusal> explain(Request request) {
        ResolvedRequest r = resolve(request);
        lock.lock();
        try {
            Refusal refusal = explainLocked(request, r);
            return refusal.shortages().isEmpty() && !refusal.queuedBehind() ? Optional.empty() : Optional.of(refusal);
        } finally {
            lock.unlock();
        }
    }

    /** Why {@code r} cannot be granted now, for a newcomer (under the lock). */
    private Refusal explainLocked(Request request, ResolvedRequest r) {
        long behind = r.mask() & contended;
        if (local == null) {
            return refusalLocked(request, r, 0, Double.NaN, behind);
        }
        Shortfall f = local.explain(r);
        return refusalLocked(request, r, f.shortOf(), f.waitNanos(), behind, f.available());
    }

    /**
     * Why waiter {@code w} is still not granted at {@code now} (under the lock): what the store says now
     * (a local store), or what its last decision said (a remote store), minus the time since.
     */
    private Refusal refusalOf(Waiter w, long now) {
        ResolvedRequest r = w.request;
        Request request = w.original;
        if (local != null) {
            Shortfall f = local.explain(r);
            long behind = f.shortOf() == 0 ? r.mask() & contended : 0;     // grantable alone: others come first
            return refusalLocked(request, r, f.shortOf() != 0 ? f.shortOf() : 0, f.waitNanos(), behind,
                    f.available());
        }
        if (Double.isNaN(w.lastWait)) {
            return refusalLocked(request, r, 0, Double.NaN, w.lastShortOf != 0 ? w.lastShortOf : r.mask() & contended);
        }
        double left = w.lastWait < Double.POSITIVE_INFINITY ? Math.max(0, w.lastBase + w.lastWait - now) : w.lastWait;
        return refusalLocked(request, r, w.lastShortOf, left, 0);
    }

    private Refusal refusalLocked(Request request, ResolvedRequest r, long shortOf, double wait, long behind) {
        double[] available = new double[r.size()];
        for (int j = 0; j < available.length; j++) {
            available[j] = knownAvailable[r.limitIndex(j)];
        }
        return refusalLocked(request, r, shortOf, wait, behind, available);
    }

    private Refusal refusalLocked(Request request, ResolvedRequest r, long shortOf, double wait, long behind,
            double[] available) {
        List<Refusal.Shortage> shortages = new java.util.ArrayList<>();
        for (int j = 0; j < r.size(); j++) {
            int i = r.limitIndex(j);
            if (((shortOf | behind) & (1L << i)) != 0) {
                shortages.add(new Refusal.Shortage(r.key(j), r.amount(j), available[j], specs.get(i).capacity()));
            }
        }
        Optional<Duration> in = behind != 0 || !(wait < Double.POSITIVE_INFINITY)
                ? Optional.empty()
                : Optional.of(Duration.ofNanos((long) Math.ceil(Math.max(0, wait))));
        return new Refusal(name(), config(), request, shortages, in, behind != 0);
    }

    @Override
    public LimitStats stats() {
        StoreSnapshot snapshot = remote != null ? await(remote.snapshot()) : null;
        lock.lock();
        try {
            if (snapshot == null) {
                snapshot = local.snapshot();
            }
            long now = clock.nanoTime();
            Map<String, LimitStats.KeyStats> keys = new LinkedHashMap<>();
            int waiting = 0;
            for (Waiter w = head; w != null; w = w.next) {
                if (waits(w)) {
                    waiting++;
                }
            }
            for (int i = 0; i < specs.size(); i++) {
                int waitingForKey = 0;
                for (Waiter w = head; w != null; w = w.next) {
                    if (waits(w) && (w.request.mask() & (1L << i)) != 0) {
                        waitingForKey++;
                    }
                }
                Limit limit = specs.get(i);
                keys.put(limit.key(), new LimitStats.KeyStats(limit.key(), limit, limit.capacity(),
                        snapshot.available(i), snapshot.inUse(i), waitingForKey,
                        refundedByKey == null ? 0 : refundedByKey[i], chargedByKey == null ? 0 : chargedByKey[i],
                        heardLocked(i, now)));
            }
            return new LimitStats(keys, granted + fastGranted.sum(), refunded, charged, timedOut, waiting, rejected,
                    waits, waitedNanos, new LimitStats.ProviderCounts(reports, refusals, pauses, unparsed));
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether {@code w} counts as waiting in stats: refused at least once (a local store refuses before
     * queueing; a remote waiter whose first call is still in flight is not known to wait yet), never a try.
     */
    private static boolean waits(Waiter w) {
        return !w.isTry && w.refused;
    }

    @Override
    public void close() {
        Waiter failed = null;
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            idle = false;
            if (wakeup != null) {
                wakeup.cancel();
                wakeup = null;
            }
            while (head != null) {
                Waiter w = head;
                unlinkLocked(w);
                w.state = CLOSED;
                w.nextSignal = failed;
                failed = w;
            }
        } finally {
            lock.unlock();
        }
        try {
            store.close();
        } finally {
            deliver(failed);
        }
    }

    @Override
    public String toString() {
        return "LimitSet[" + name() + ", " + store.describe() + ", " + specs + ", config=" + config() + "]";
    }

    /** Grants made by the store's lock-free path (for tests). */
    long fastGrants() {
        return fastGranted.sum();
    }

    /**
     * For a keyed family (SPEC L24): nanoseconds until dropping this set would change nothing (see
     * {@link LocalStore#idleIn}); {@code +Infinity} while anyone waits, for a remote store, or once closed.
     */
    double idleIn() {
        lock.lock();
        try {
            return head != null || closed || local == null ? Double.POSITIVE_INFINITY : local.idleIn();
        } finally {
            lock.unlock();
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------

    /**
     * The request resolved against this set's limits, cached on the request under the limits list:
     * the engines of a keyed family's keys share their template's list (SPEC L24), so a request
     * resolves once for all of them, not once per key.
     */
    private ResolvedRequest resolve(Request request) {
        Objects.requireNonNull(request, "request");
        Object cached = request.cached(specs);
        if (cached != null) {
            return (ResolvedRequest) cached;
        }
        ResolvedRequest r = ResolvedRequest.resolve(definition, request);
        request.cache(specs, r);
        return r;
    }

    private boolean isResource(int limit) {
        return specs.get(limit) instanceof ResourceLimit;
    }

    private void checkOpen() {
        if (closed) {
            throw closedException();
        }
    }

    private IllegalStateException closedException() {
        return new IllegalStateException("LimitSet '" + name() + "' is closed");
    }

    private AcquireTimeoutException timeoutException(Request request, long timeoutNanos, Refusal refusal) {
        return new AcquireTimeoutException("could not acquire " + request + " from set '" + name() + "' within "
                + Duration.ofNanos(timeoutNanos) + (refusal != null ? ": " + refusal : "") + "; nothing was taken",
                refusal);
    }

    private static RuntimeException failure(Waiter w) {
        RuntimeException e = w.failure;
        return e instanceof LimitException || e instanceof IllegalStateException
                ? e
                : new LimitException(e.getMessage(), e);
    }

    private static RuntimeException unwrap(Throwable failure) {
        Throwable e = failure;
        while ((e instanceof java.util.concurrent.CompletionException || e instanceof ExecutionException)
                && e.getCause() != null) {
            e = e.getCause();
        }
        if (e instanceof RuntimeException runtime) {
            return runtime;
        }
        if (e instanceof Error error) {
            throw error;
        }
        return new LimitException("the limit store failed: " + e, e);
    }

    /** Waits for a store call (the store bounds its time); not interruptible, the status is kept. */
    private static <T> T await(CompletableFuture<T> call) {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return call.get();
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    throw unwrap(e.getCause());
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** A timeout in nanoseconds, saturated at {@link Long#MAX_VALUE}. */
    static long timeoutNanos(Duration timeout) {
        Objects.requireNonNull(timeout, "timeout");
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("timeout must not be negative, got: " + timeout);
        }
        try {
            return timeout.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** A queued acquirer: a parked thread (blocking, or a try on a remote store) or a future (async). */
    private static final class Waiter {
        final Request original;
        final ResolvedRequest request;
        final Thread thread;
        final CompletableFuture<Acquisition> future;
        /** A try: decided once, granted or refused, never left waiting. */
        final boolean isTry;
        Waiter prev;
        Waiter next;
        Waiter nextSignal;
        /** Clock reading when it was queued, for {@link #waitedNanos}. */
        long since;
        /** Refused at least once: when granted, it counts as an acquisition that had to wait. */
        boolean refused;
        /** Unique among this set's waiters; set when queued. */
        long id;
        /** What the last decision said (for a refusal's facts): keys short, wait from {@link #lastBase}. */
        long lastShortOf;
        double lastWait = Double.NaN;
        long lastBase;
        /** Why it timed out, set when it does. */
        volatile Refusal refusal;
        volatile int state = WAITING;
        volatile Acquisition result;
        volatile RuntimeException failure;
        volatile MonotonicClock.Wakeup deadline;

        Waiter(Request original, ResolvedRequest request, Thread thread, CompletableFuture<Acquisition> future,
                boolean isTry) {
            this.original = original;
            this.request = request;
            this.thread = thread;
            this.future = future;
            this.isTry = isTry;
        }
    }

    /**
     * Waiters decided together in one store call, and what the store decided for each: the whole
     * queue of a local store (one reused round), or one remote call (at most {@link #BATCH}).
     */
    private final class Round implements Batch, DecisionSink {
        Waiter[] items;
        long[] seq;
        boolean[] granted;
        boolean[] decided;
        long[] shortOf;
        double[] wait;
        final double[] available;
        /** Decide again after this many nanoseconds regardless (see {@link DecisionSink#recheck}). */
        double recheck = Double.POSITIVE_INFINITY;
        int size;
        /** Grants whose waiter left before they arrived, to give back once the lock is released. */
        private Grant[] abandoned;
        private int abandonedCount;

        Round(int limits, int capacity) {
            available = new double[limits];
            Arrays.fill(available, Double.NaN);
            items = new Waiter[capacity];
            seq = new long[capacity];
            granted = new boolean[capacity];
            decided = new boolean[capacity];
            shortOf = new long[capacity];
            wait = new double[capacity];
        }

        void clear() {
            size = 0;
            recheck = Double.POSITIVE_INFINITY;
        }

        void add(Waiter w) {
            if (size == items.length) {
                int n = size * 2;
                items = Arrays.copyOf(items, n);
                seq = Arrays.copyOf(seq, n);
                granted = Arrays.copyOf(granted, n);
                decided = Arrays.copyOf(decided, n);
                shortOf = Arrays.copyOf(shortOf, n);
                wait = Arrays.copyOf(wait, n);
            }
            items[size] = w;
            granted[size] = false;
            decided[size] = false;
            size++;
        }

        boolean anyGranted() {
            for (int i = 0; i < size; i++) {
                if (granted[i]) {
                    return true;
                }
            }
            return false;
        }

        void abandon(Grant g) {
            if (abandoned == null) {
                abandoned = new Grant[size];
            }
            abandoned[abandonedCount++] = g;
        }

        void giveBackAbandoned() {
            for (int i = 0; i < abandonedCount; i++) {
                abandoned[i].giveBack();
            }
        }

        @Override
        public int size() {
            return size;
        }

        @Override
        public ResolvedRequest request(int i) {
            return items[i].request;
        }

        @Override
        public boolean isTry(int i) {
            return items[i].isTry;
        }

        @Override
        public long id(int i) {
            return items[i].id;
        }

        @Override
        public long queuedAt(int i) {
            return items[i].since;
        }

        @Override
        public void granted(int i, long s) {
            seq[i] = s;
            granted[i] = true;
            decided[i] = true;
        }

        @Override
        public void refused(int i, long keys, double w) {
            shortOf[i] = keys;
            wait[i] = w;
            decided[i] = true;
        }

        @Override
        public void available(int limit, double units) {
            available[limit] = units;
        }

        @Override
        public void recheck(double nanos) {
            recheck = Math.min(recheck, nanos);
        }
    }

    /** The handle of one grant. */
    private final class Grant implements Acquisition {
        final ResolvedRequest request;
        final long seq;
        /** Actual usage per position of the request, NaN where not updated; null if never. */
        volatile double[] used;
        /** 0 while open, 1 once closed; flipped once by {@link #close()} (CAS through {@link #RELEASED}). */
        private volatile int released;

        Grant(ResolvedRequest request, long seq) {
            this.request = request;
            this.seq = seq;
            var recent = recentGrants;
            if (recent != null && seq > 0) {
                recent.set((int) ((long) RECENT_COUNT.getAndAdd(LimitEngine.this, 1L) % RECENT_GRANTS), this);
            }
        }

        @Override
        public Acquisition update(String key, double usage) {
            return update(Map.of(Objects.requireNonNull(key, "key"), usage));
        }

        @Override
        public Acquisition update(Map<String, ? extends Number> usage) {
            Objects.requireNonNull(usage, "usage");
            int[] positions = new int[usage.size()];
            double[] values = new double[usage.size()];
            int k = 0;
            for (Map.Entry<String, ? extends Number> entry : usage.entrySet()) {
                String key = entry.getKey();
                int position = request.positionOf(key);
                if (position < 0) {
                    throw new IllegalArgumentException("cannot update '" + key + "': not acquired here; acquired keys: "
                            + request.granted().keySet());
                }
                if (isResource(request.limitIndex(position))) {
                    throw new IllegalArgumentException("cannot update '" + key
                            + "': it is a ResourceLimit, whose permits are released on close, not settled");
                }
                Number n = entry.getValue();
                double value = n == null ? Double.NaN : n.doubleValue();
                if (Double.isNaN(value) || Double.isInfinite(value) || value < 0) {
                    throw new IllegalArgumentException(
                            "usage of '" + key + "' must be a finite number >= 0, got: " + n);
                }
                double capacity = specs.get(request.limitIndex(position)).capacity();
                if (value > MAX_USAGE_FACTOR * capacity) {
                    throw new IllegalArgumentException("usage of '" + key + "' is " + n + ", more than "
                            + (long) MAX_USAGE_FACTOR + " times its capacity " + capacity + ": the limit would stay"
                            + " in debt for over a million windows; report the units really used");
                }
                positions[k] = position;
                values[k] = value;
                k++;
            }
            if (released != 0) {
                throw new IllegalStateException("cannot update an acquisition that is already closed: " + this);
            }
            double[] current = used;
            double[] next = current == null ? newUsage() : current.clone();
            for (int i = 0; i < k; i++) {
                next[positions[i]] = values[i];
            }
            used = next;
            return this;
        }

        private double[] newUsage() {
            double[] usage = new double[request.size()];
            Arrays.fill(usage, Double.NaN);
            return usage;
        }

        /**
         * Undoes a grant nobody received (its waiter left, or its future was cancelled, meanwhile): rate
         * limits are settled to zero use, so their units are refunded (a plain close would let the
         * requested amount stand, SPEC L13), and resource permits are released.
         */
        void giveBack() {
            used = new double[request.size()];
            close();
        }

        @Override
        public Acquisition observe(ProviderReport report) {
            LimitEngine.this.observe(report, this);
            return this;
        }

        /**
         * The provider refused the call: the rate limits in {@code limits} (bit i for limit i) are settled
         * to zero use, as a later {@link #update} may still change (SPEC F3). Nothing once closed.
         */
        void notUsed(long limits) {
            if (released != 0) {
                return;
            }
            double[] current = used;
            double[] next = current == null ? newUsage() : current.clone();
            for (int j = 0; j < request.size(); j++) {
                int i = request.limitIndex(j);
                if (!isResource(i) && (limits & (1L << i)) != 0) {
                    next[j] = 0;
                }
            }
            used = next;
        }

        @Override
        public Map<String, String> config() {
            return definition.config();
        }

        @Override
        public Map<String, Double> granted() {
            return request.granted();
        }

        @Override
        public void close() {
            if (used == null && !request.holdsResource()) {
                // Rate limits only, never updated: settling would do nothing, so no CAS is needed to
                // run it once. Marking it closed still makes a later update() fail; closing twice
                // stays harmless.
                RELEASED.setRelease(this, 1);
                return;
            }
            if (RELEASED.compareAndSet(this, 0, 1)) {
                settle(this);
            }
        }

        @Override
        public String toString() {
            return "Acquisition" + request.granted() + " from " + name();
        }
    }

    private static final VarHandle RELEASED;
    private static final VarHandle RECENT_COUNT;

    static {
        try {
            RELEASED = MethodHandles.lookup().findVarHandle(Grant.class, "released", int.class);
            RECENT_COUNT = MethodHandles.lookup().findVarHandle(LimitEngine.class, "recentCount", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
