package dev.concurry.limit;

import dev.concurry.time.MonotonicClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.random.RandomGenerator;
import dev.concurry.limit.spi.Probe;

/**
 * The distributor (SPEC layer 3, L21–L23): spreads acquisitions over several {@link LimitSet}s, such
 * as one per region, account or API key, behind the same {@link Limiter} API as a single set. The
 * acquisition's {@link Acquisition#config()} is the config of the set that granted it, and closing
 * it gives the units back to that set.
 *
 * <pre>{@code
 * LimitSet usEast = LimitSet.builder().add(RateLimit.of("tpm", 1000, Duration.ofMinutes(1)))
 *         .config(Map.of("region", "us-east-1")).build();
 * LimitSet euWest = LimitSet.builder().add(RateLimit.of("tpm", 1000, Duration.ofMinutes(1)))
 *         .config(Map.of("region", "eu-west-1")).build();
 * LimitPool regions = LimitPool.of(usEast, euWest);        // capacity-aware, with failover
 *
 * try (Acquisition acq = regions.acquire(Request.of("tpm", 10))) {
 *     callApi(acq.config().get("region"));
 * }
 * }</pre>
 *
 * <p><b>Routing</b> (L23). Sets may have different keys. A request goes only to the sets that could
 * ever grant it: sets that have every key it names, with a capacity of at least the amount (and whole
 * permits for resource limits). The {@linkplain Request#empty() empty request} goes to every set
 * without a plain {@link RateLimit} (such a set needs an amount, SPEC L9). A request no set could ever
 * grant is rejected at once with {@link IllegalArgumentException}, listing the keys the pool knows
 * (for an unknown key) or why each set refuses it.
 *
 * <p><b>Balancing and failover</b> (L22). The {@link PoolBalancing} strategy orders the eligible sets,
 * its preferred set first; the sets are then tried in that order without waiting, and the first that
 * grants serves the request (every strategy fails over, not only the default). When none can grant
 * now, {@code tryAcquire} returns empty, and {@code acquire} / {@code acquireAsync} wait on every
 * eligible set at once and are granted by whichever set can grant first, at the moment it can (no
 * polling). The other sets' waits are then withdrawn; a set that granted in the same instant gets its
 * units back at once. While it waits, a pool acquisition is queued in every eligible set, so the sets'
 * first-come first-served order (L12) also holds against acquirers that use a set directly.
 *
 * <p><b>Giving up</b>. A timeout, an interrupt or cancelling the future leaves nothing taken in any
 * set. Timeouts are measured on the pool's {@linkplain Builder#clock clock} (the system clock by
 * default; give it the sets' {@link dev.concurry.time.ManualClock} in tests).
 *
 * <p>A pool does not own its sets: it has no {@code close()}; close the sets. A set that fails (for
 * example because it is closed, or its server is down) is skipped while another set can serve; the
 * failure is thrown only when every eligible set fails. Thread-safe; a pool is meant to be shared.
 */
public final class LimitPool implements Limiter {
    private final List<PoolMember> members;
    private final List<LimitSet> sets;
    private final PoolBalancing balancing;
    private final Random random;
    private final MonotonicClock clock;
    private final Set<String> keys;
    private final AtomicLong turn = new AtomicLong();
    private final LongAdder failovers = new LongAdder();
    private final LongAdder timedOut = new LongAdder();
    private final LongAdder rejected = new LongAdder();

    private LimitPool(List<LimitSet> sets, PoolBalancing balancing, Random random, MonotonicClock clock) {
        this.sets = List.copyOf(sets);
        this.balancing = balancing;
        this.random = random;
        this.clock = clock;
        List<PoolMember> list = new ArrayList<>(sets.size());
        Set<String> allKeys = new LinkedHashSet<>();
        for (int i = 0; i < sets.size(); i++) {
            LimitSet set = sets.get(i);
            list.add(new PoolMember(set, i));
            set.limits().forEach(limit -> allKeys.add(limit.key()));
        }
        this.members = List.copyOf(list);
        this.keys = Collections.unmodifiableSet(allKeys);
    }

    /**
     * A capacity-aware pool ({@link PoolBalancing#CAPACITY_AWARE}) over {@code sets}, with failover.
     *
     * <pre>{@code
     * LimitPool accounts = LimitPool.of(accountA, accountB, accountC);
     * Optional<Acquisition> now = accounts.tryAcquire(Request.of("requests", 1));  // any account with room
     * }</pre>
     *
     * @throws IllegalArgumentException if there is no set, a set is null, or one set is given twice
     */
    public static LimitPool of(LimitSet... sets) {
        if (sets == null) {
            throw new IllegalArgumentException("a LimitPool needs at least one LimitSet, got null");
        }
        return builder().addAll(Arrays.asList(sets)).build();
    }

    /**
     * A builder, for another balancing strategy or a clock.
     *
     * <pre>{@code
     * LimitPool keys = LimitPool.builder()
     *         .add(keyA).add(keyB)
     *         .balancing(PoolBalancing.ROUND_ROBIN)
     *         .build();
     * }</pre>
     */
    public static Builder builder() {
        return new Builder();
    }

    /** The sets, in the order they were added. */
    public List<LimitSet> sets() {
        return sets;
    }

    /** How the pool picks its preferred set. */
    public PoolBalancing balancing() {
        return balancing;
    }

    /** Every key of every set, in the order the sets and their limits were added. */
    public Set<String> keys() {
        return keys;
    }

    // ---- acquiring -------------------------------------------------------------------------------

    /**
     * Acquires from the preferred set, or another that can grant now; if none can, waits on every
     * eligible set at once and takes the first grant.
     *
     * <pre>{@code
     * try (Acquisition acq = regions.acquire(Request.of("tpm", 10))) {
     *     callApi(acq.config().get("region"));
     * }
     * }</pre>
     *
     * @throws IllegalArgumentException    if no set of the pool could ever grant {@code request}
     * @throws AcquireInterruptedException if the thread is interrupted while waiting (nothing is taken
     *                                     from any set; the interrupt status is kept)
     */
    @Override
    public Acquisition acquire(Request request) {
        return acquireBlocking(request, -1);
    }

    /**
     * Like {@link #acquire(Request)}, but gives up at {@code timeout}, measured on the pool's clock.
     *
     * <pre>{@code
     * Acquisition acq = regions.acquire(Request.of("tpm", 10), Duration.ofSeconds(2));
     * }</pre>
     *
     * @throws AcquireTimeoutException     when the timeout passes first (nothing is taken from any set)
     * @throws AcquireInterruptedException if the thread is interrupted while waiting
     * @throws IllegalArgumentException    if no set could ever grant {@code request}, or the timeout is
     *                                     negative
     */
    @Override
    public Acquisition acquire(Request request, Duration timeout) {
        return acquireBlocking(request, LimitEngine.timeoutNanos(timeout));
    }

    /**
     * Grants {@code request} now from the preferred set or, failing over, from the first other
     * eligible set that can grant it now; empty when none can. Never blocks.
     *
     * <pre>{@code
     * Optional<Acquisition> now = regions.tryAcquire(Request.of("tpm", 10));
     * now.ifPresent(acq -> { try (acq) { callApi(acq.config().get("region")); } });
     * }</pre>
     *
     * @throws IllegalArgumentException if no set of the pool could ever grant {@code request}
     */
    @Override
    public Optional<Acquisition> tryAcquire(Request request) {
        List<PoolMember> plan = plan(request);
        Acquisition granted = tryInOrder(plan, request);
        if (granted == null) {
            rejected.increment();
            return Optional.empty();
        }
        return Optional.of(granted);
    }

    /**
     * A future granted by the preferred set or another that can grant now, else by whichever eligible
     * set can grant first; no thread is held while it waits. Cancelling it withdraws the request from
     * every set with nothing taken.
     *
     * <pre>{@code
     * regions.acquireAsync(Request.of("tpm", 10))
     *         .thenAccept(acq -> { try (acq) { callApi(acq.config().get("region")); } });
     * }</pre>
     *
     * <p>A request no set could ever grant fails the future with {@link IllegalArgumentException}.
     */
    @Override
    public CompletableFuture<Acquisition> acquireAsync(Request request) {
        return acquireAsync(request, -1);
    }

    /**
     * Like {@link #acquireAsync(Request)}, but the future fails with {@link AcquireTimeoutException}
     * when {@code timeout} passes first (measured on the pool's clock; nothing is then taken from any
     * set); the exception's refusal is the best member's.
     *
     * <pre>{@code
     * regions.acquireAsync(Request.of("tpm", 10), Duration.ofSeconds(2))
     *         .thenAccept(acq -> { try (acq) { callApi(acq.config().get("region")); } });
     * }</pre>
     */
    @Override
    public CompletableFuture<Acquisition> acquireAsync(Request request, Duration timeout) {
        long nanos;
        try {
            nanos = LimitEngine.timeoutNanos(timeout);
        } catch (IllegalArgumentException | NullPointerException e) {
            return CompletableFuture.failedFuture(e);
        }
        return acquireAsync(request, nanos);
    }

    private CompletableFuture<Acquisition> acquireAsync(Request request, long timeoutNanos) {
        long start = timeoutNanos > 0 ? clock.nanoTime() : 0;
        List<PoolMember> plan;
        Acquisition now;
        try {
            Objects.requireNonNull(request, "request");
            plan = plan(request);
            now = tryInOrder(plan, request);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (now != null) {
            return CompletableFuture.completedFuture(now);
        }
        if (timeoutNanos == 0) {
            timedOut.increment();
            return CompletableFuture.failedFuture(timeoutException(request, 0, plan));
        }
        GrantRace race = new GrantRace(plan, request);
        CompletableFuture<Acquisition> result = race.result();
        MonotonicClock.Wakeup deadline = timeoutNanos > 0 ? clock.wakeAt(deadlineOf(start, timeoutNanos), () -> {
            if (result.completeExceptionally(new TimeoutException())) {
                timedOut.increment();
            }
        }) : null;
        CompletableFuture<Acquisition> out = new CompletableFuture<>();
        result.whenComplete((acquisition, failure) -> {
            if (deadline != null) {
                deadline.cancel();
            }
            if (failure == null) {
                recordGrant(race.winner(), race.winnerPosition());
                if (!out.complete(acquisition)) {
                    race.winner().giveBack(acquisition);
                }
            } else {
                out.completeExceptionally(failure instanceof TimeoutException
                        ? timeoutException(request, timeoutNanos, plan)
                        : failure);
            }
        });
        out.whenComplete((acquisition, failure) -> {
            if (failure != null) {
                result.cancel(false);       // the caller gave up (cancel): nothing stays taken
            }
        });
        race.start();
        return out;
    }

    private static long deadlineOf(long start, long timeoutNanos) {
        return start + timeoutNanos < start ? Long.MAX_VALUE : start + timeoutNanos;
    }

    /**
     * Tries the preferred set, then the others in order (never blocks); a refusal is the best
     * member's: the one that could grant soonest, and names that member (SPEC L25).
     *
     * <pre>{@code
     * if (regions.attempt(Request.of("tpm", 10)) instanceof Attempt.Refused r) {
     *     log.info("every region is busy; {} could serve in {}", r.refusal().set(), r.refusal().grantableIn());
     * }
     * }</pre>
     */
    @Override
    public Attempt attempt(Request request) {
        List<PoolMember> plan = plan(request);
        Refusal best = null;
        RuntimeException failure = null;
        for (int position = 0; position < plan.size(); position++) {
            PoolMember member = plan.get(position);
            Attempt attempt;
            try {
                attempt = member.set.attempt(request);
            } catch (IllegalArgumentException e) {
                throw e;
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
                continue;
            }
            switch (attempt) {
                case Attempt.Granted granted -> {
                    recordGrant(member, position);
                    return granted;
                }
                case Attempt.Refused refused -> best = better(best, refused.refusal());
            }
        }
        if (best == null) {
            throw failure;
        }
        rejected.increment();
        return new Attempt.Refused(best);
    }

    /** The refusal that could be granted sooner ({@code a} on a tie). */
    private static Refusal better(Refusal a, Refusal b) {
        if (a == null) {
            return b;
        }
        if (b.grantableIn().isPresent() && (a.grantableIn().isEmpty()
                || b.grantableIn().get().compareTo(a.grantableIn().get()) < 0)) {
            return b;
        }
        return a;
    }

    /** The best explanation any eligible set gives now (the pool's timeout facts), or null. */
    private Refusal bestExplanation(List<PoolMember> plan, Request request) {
        Refusal best = null;
        for (PoolMember member : plan) {
            try {
                Optional<Refusal> why = member.set instanceof Probe probe ? probe.explain(request) : Optional.empty();
                if (why.isPresent()) {
                    best = better(best, why.get());
                }
            } catch (RuntimeException e) {
                // a set that cannot say why is left out of the explanation
            }
        }
        return best;
    }

    private Acquisition acquireBlocking(Request request, long timeoutNanos) {
        long start = timeoutNanos > 0 ? clock.nanoTime() : 0;
        List<PoolMember> plan = plan(request);
        Acquisition now = tryInOrder(plan, request);
        if (now != null) {
            return now;
        }
        if (timeoutNanos == 0) {
            timedOut.increment();
            throw timeoutException(request, timeoutNanos, plan);
        }
        GrantRace race = new GrantRace(plan, request);
        CompletableFuture<Acquisition> result = race.result();
        MonotonicClock.Wakeup deadline = null;
        if (timeoutNanos > 0) {
            // Scheduled before the sets see the waits, so the deadline counts from the call.
            deadline = clock.wakeAt(deadlineOf(start, timeoutNanos),
                    () -> result.completeExceptionally(new TimeoutException()));
        }
        race.start();
        try {
            Acquisition granted = result.get();
            recordGrant(race.winner(), race.winnerPosition());
            return granted;
        } catch (InterruptedException e) {
            race.abandon();
            Thread.currentThread().interrupt();
            throw new AcquireInterruptedException("interrupted while waiting for " + request + " from pool "
                    + names(plan) + "; nothing was taken", e);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof TimeoutException) {
                timedOut.increment();
                throw timeoutException(request, timeoutNanos, plan);
            }
            if (cause instanceof RuntimeException runtime) {
                throw runtime;
            }
            if (cause instanceof Error error) {
                throw error;
            }
            throw new LimitException("could not acquire " + request + " from pool " + names(plan), cause);
        } finally {
            if (deadline != null) {
                deadline.cancel();
            }
        }
    }

    /**
     * Tries the sets in order, without waiting; the first grant wins. A set that fails is skipped;
     * its failure is thrown only if every set failed.
     */
    private Acquisition tryInOrder(List<PoolMember> plan, Request request) {
        RuntimeException failure = null;
        int failed = 0;
        for (int position = 0; position < plan.size(); position++) {
            PoolMember member = plan.get(position);
            Acquisition granted;
            try {
                granted = member.set.tryAcquire(request).orElse(null);
            } catch (IllegalArgumentException e) {
                throw e;
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
                failed++;
                continue;
            }
            if (granted != null) {
                recordGrant(member, position);
                return granted;
            }
        }
        if (failed == plan.size()) {
            throw failure;
        }
        return null;
    }

    private void recordGrant(PoolMember member, int position) {
        member.dispatched.increment();
        if (position > 0) {
            failovers.increment();
        }
    }

    // ---- routing ---------------------------------------------------------------------------------

    /**
     * The sets that could ever grant {@code request} (L23), in the order the balancing strategy tries
     * them, its preferred set first.
     */
    private List<PoolMember> plan(Request request) {
        Objects.requireNonNull(request, "request");
        List<PoolMember> eligible = new ArrayList<>(members.size());
        for (PoolMember member : members) {
            if (member.ineligibility(request) == null) {
                eligible.add(member);
            }
        }
        if (eligible.isEmpty()) {
            throw unroutable(request);
        }
        int n = eligible.size();
        if (n == 1) {
            return eligible;
        }
        return switch (balancing) {
            case ROUND_ROBIN -> rotate(eligible, Math.floorMod(turn.getAndIncrement(), n));
            case RANDOM -> rotate(eligible, randomGenerator().nextInt(n));
            case CAPACITY_AWARE -> byHeadroom(rotate(eligible, Math.floorMod(turn.getAndIncrement(), n)), request);
        };
    }

    private RandomGenerator randomGenerator() {
        return random != null ? random : ThreadLocalRandom.current();
    }

    private static List<PoolMember> rotate(List<PoolMember> list, int first) {
        if (first != 0) {
            Collections.rotate(list, -first);
        }
        return list;
    }

    /** Most headroom first; the sort is stable, so equal sets keep the rotation's order. */
    private static List<PoolMember> byHeadroom(List<PoolMember> rotated, Request request) {
        Map<PoolMember, Double> headroom = new IdentityHashMap<>();
        for (PoolMember member : rotated) {
            double h;
            try {
                h = member.headroom(request);
            } catch (RuntimeException e) {
                h = Double.NEGATIVE_INFINITY;   // its stats fail: try it last, tryAcquire will tell
            }
            headroom.put(member, h);
        }
        rotated.sort((a, b) -> Double.compare(headroom.get(b), headroom.get(a)));
        return rotated;
    }

    private IllegalArgumentException unroutable(Request request) {
        List<String> unknown = new ArrayList<>();
        for (String key : request.amounts().keySet()) {
            if (!keys.contains(key)) {
                unknown.add(key);
            }
        }
        if (!unknown.isEmpty()) {
            return new IllegalArgumentException("unknown key" + (unknown.size() > 1 ? "s " : " ")
                    + String.join(", ", unknown.stream().map(k -> "'" + k + "'").toList()) + " in " + request
                    + ": no set of this pool has " + (unknown.size() > 1 ? "them" : "it")
                    + "; keys this pool knows: " + keys);
        }
        List<String> reasons = new ArrayList<>(members.size());
        for (PoolMember member : members) {
            reasons.add(member.ineligibility(request));
        }
        return new IllegalArgumentException("no set of this pool could ever grant " + request + ": "
                + String.join("; ", reasons));
    }

    // ---- stats -----------------------------------------------------------------------------------

    /**
     * The pool as one limiter: per key, the sum over the sets that have it of capacity, available,
     * in use, waiting, refunded and charged (the {@code limit} is the first such set's); totals summed
     * over the sets, plus the pool's own timeouts. A pool acquisition waiting on several sets counts
     * once per set in {@code waiting}; {@code waits} and {@code waitedNanos} are the sets' (a pool
     * acquisition that waited counts in the set that granted it). {@code rejected} counts the pool's
     * own {@code tryAcquire} calls that found no set with room, once each: the sets' own counts also
     * include every set the pool tried in vain (before failing over, or before waiting), so they are
     * not summed. See
     * {@link #poolStats()} for each set and for the dispatch counts.
     *
     * <pre>{@code
     * double tpmLeft = regions.stats().key("tpm").available();   // over every region
     * }</pre>
     */
    @Override
    public LimitStats stats() {
        Map<String, double[]> sums = new LinkedHashMap<>();
        Map<String, Limit> firstLimit = new LinkedHashMap<>();
        long granted = 0;
        double refunded = 0;
        double charged = 0;
        long timedOutTotal = timedOut.sum();
        int waiting = 0;
        long waits = 0;
        long waitedNanos = 0;
        long[] provider = new long[4];
        for (PoolMember member : members) {
            LimitStats s = member.set.stats();
            provider[0] += s.provider().reports();
            provider[1] += s.provider().refusals();
            provider[2] += s.provider().pauses();
            provider[3] += s.provider().unparsed();
            for (LimitStats.KeyStats k : s.keys().values()) {
                double[] sum = sums.computeIfAbsent(k.key(), key -> new double[6]);
                firstLimit.putIfAbsent(k.key(), k.limit());
                sum[0] += k.capacity();
                sum[1] += k.available();
                sum[2] += k.inUse();
                sum[3] += k.waiting();
                sum[4] += k.refunded();
                sum[5] += k.charged();
            }
            granted += s.granted();
            refunded += s.refunded();
            charged += s.charged();
            timedOutTotal += s.timedOut();
            waiting += s.waiting();
            waits += s.waits();
            waitedNanos += s.waitedNanos();
        }
        Map<String, LimitStats.KeyStats> perKey = new LinkedHashMap<>();
        sums.forEach((key, sum) -> perKey.put(key,
                new LimitStats.KeyStats(key, firstLimit.get(key), sum[0], sum[1], sum[2], (int) sum[3], sum[4],
                        sum[5], ProviderFeedback.NONE)));
        return new LimitStats(perKey, granted, refunded, charged, timedOutTotal, waiting, rejected.sum(), waits,
                waitedNanos, new LimitStats.ProviderCounts(provider[0], provider[1], provider[2], provider[3]));
    }

    /**
     * Each set's own snapshot, how many grants each set served through the pool, and how many grants
     * failed over from the preferred set to another.
     *
     * <pre>{@code
     * LimitPoolStats stats = regions.poolStats();
     * long servedByFirst = stats.sets().get(0).dispatched();
     * }</pre>
     */
    public LimitPoolStats poolStats() {
        List<LimitPoolStats.SetStats> perSet = new ArrayList<>(members.size());
        long dispatched = 0;
        for (PoolMember member : members) {
            long served = member.dispatched.sum();
            dispatched += served;
            perSet.add(new LimitPoolStats.SetStats(member.set.name(), member.set.config(), member.set.stats(),
                    served));
        }
        return new LimitPoolStats(balancing, perSet, dispatched, failovers.sum(), timedOut.sum(), rejected.sum());
    }

    @Override
    public String toString() {
        return "LimitPool[" + balancing + ", " + names(members) + "]";
    }

    private static String names(List<PoolMember> list) {
        return list.stream().map(PoolMember::toString).toList().toString();
    }

    private AcquireTimeoutException timeoutException(Request request, long timeoutNanos, List<PoolMember> plan) {
        Refusal best = bestExplanation(plan, request);
        return new AcquireTimeoutException("could not acquire " + request + " from any set of pool "
                + names(members) + " within " + Duration.ofNanos(timeoutNanos)
                + (best != null ? ": the best, '" + best.set() + "', " + best : "") + "; nothing was taken", best);
    }

    /**
     * Collects the sets and options of a {@link LimitPool}; validates at {@link #build()}.
     *
     * <pre>{@code
     * LimitPool pool = LimitPool.builder()
     *         .add(usEast).add(euWest)
     *         .balancing(PoolBalancing.RANDOM)
     *         .random(new Random(42))                  // reproducible choices
     *         .build();
     * }</pre>
     */
    public static final class Builder {
        private final List<LimitSet> sets = new ArrayList<>();
        private PoolBalancing balancing = PoolBalancing.CAPACITY_AWARE;
        private Random random;
        private MonotonicClock clock = MonotonicClock.system();

        private Builder() {
        }

        /** Adds a set; a set may be in a pool only once. */
        public Builder add(LimitSet set) {
            sets.add(set);
            return this;
        }

        /** Adds every set of {@code all}, in order. */
        public Builder addAll(Iterable<? extends LimitSet> all) {
            if (all == null) {
                throw new IllegalArgumentException("sets must not be null");
            }
            all.forEach(this::add);
            return this;
        }

        /** How to pick the preferred set; {@link PoolBalancing#CAPACITY_AWARE} by default. */
        public Builder balancing(PoolBalancing balancing) {
            if (balancing == null) {
                throw new IllegalArgumentException("balancing must not be null; one of "
                        + Arrays.toString(PoolBalancing.values()));
            }
            this.balancing = balancing;
            return this;
        }

        /**
         * The source of {@link PoolBalancing#RANDOM} choices, e.g. {@code new Random(seed)} for
         * reproducible runs; {@link ThreadLocalRandom} by default.
         */
        public Builder random(Random random) {
            this.random = Objects.requireNonNull(random, "random");
            return this;
        }

        /**
         * The clock that measures {@link LimitPool#acquire(Request, Duration)} timeouts; the system
         * clock by default. Give it the sets' {@link dev.concurry.time.ManualClock} in tests.
         */
        public Builder clock(MonotonicClock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * Builds the pool.
         *
         * @throws IllegalArgumentException if there is no set, a set is null, or a set was added twice
         */
        public LimitPool build() {
            if (sets.isEmpty()) {
                throw new IllegalArgumentException("a LimitPool needs at least one LimitSet, got none");
            }
            Map<LimitSet, Integer> seen = new IdentityHashMap<>();
            for (int i = 0; i < sets.size(); i++) {
                LimitSet set = sets.get(i);
                if (set == null) {
                    throw new IllegalArgumentException("set #" + i + " of the LimitPool is null; sets: " + sets);
                }
                Integer before = seen.put(set, i);
                if (before != null) {
                    throw new IllegalArgumentException("LimitSet '" + set.name() + "' is added twice to the "
                            + "LimitPool (#" + before + " and #" + i + "); a pool holds each set once");
                }
            }
            return new LimitPool(sets, balancing, random, clock);
        }
    }
}
