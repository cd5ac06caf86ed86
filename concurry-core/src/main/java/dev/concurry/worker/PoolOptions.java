package dev.concurry.worker;

import dev.concurry.limit.Limit;
import dev.concurry.limit.Limiter;
import dev.concurry.retry.RetryPolicy;
import dev.concurry.time.MonotonicClock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The options shared by {@link WorkerOptions} and {@link TaskExecutor.Options}: mode, pool size, load
 * balancing, queue bound, limits, retries and closing. Every option has a default; values are checked when set
 * and combinations at {@code init()}.
 *
 * <pre>{@code
 * Worker.options(AiWorker.class)
 *         .mode(Mode.THREAD)              // default SYNC
 *         .maxWorkers(10)                 // default 1
 *         .loadBalancing(LoadBalancing.LEAST_ACTIVE)
 *         .maxQueuedTasks(100)            // default unbounded
 *         .limits(limits)                 // default LimitSet.empty()
 *         .retry(RetryPolicy.builder().maxAttempts(3).retryOn(IOException.class).build())  // default none
 *         .closeTimeout(Duration.ofSeconds(5))
 *         .init(() -> new AiWorker(client));
 * }</pre>
 *
 * @param <B> the concrete options type, returned by every setter
 */
public abstract sealed class PoolOptions<B extends PoolOptions<B>> permits WorkerOptions, TaskExecutor.Options {
    private Mode mode = Mode.SYNC;
    private int maxWorkers = 1;
    private LoadBalancing loadBalancing = LoadBalancing.ROUND_ROBIN;
    private boolean onDemand;
    private int maxQueuedTasks = Integer.MAX_VALUE;
    private boolean blockWhenFull = true;
    private Limiter limiter;
    private List<Limit> specs = List.of();
    private boolean sharedLimits = true;
    private Duration closeTimeout = Duration.ofSeconds(30);
    private boolean cancelQueuedOnClose;
    private String name;
    private RetryPolicy<?> retry = RetryPolicy.none();
    private MonotonicClock clock = MonotonicClock.system();
    private List<String> jvmOptions = List.of();
    private String serializationFilter;
    private WorkerCluster cluster;
    private Duration callTimeout = Duration.ZERO;

    PoolOptions() {
    }

    @SuppressWarnings("unchecked")
    private B self() {
        return (B) this;
    }

    /** Where calls run; {@link Mode#SYNC} by default. */
    public B mode(Mode mode) {
        this.mode = Objects.requireNonNull(mode, "mode");
        return self();
    }

    /** How many workers (or, on demand, how many at once at most); 1 by default. */
    public B maxWorkers(int maxWorkers) {
        if (maxWorkers < 1) {
            throw new IllegalArgumentException("maxWorkers must be >= 1, got: " + maxWorkers);
        }
        this.maxWorkers = maxWorkers;
        return self();
    }

    /** How the next call's worker is chosen; {@link LoadBalancing#ROUND_ROBIN} by default. */
    public B loadBalancing(LoadBalancing loadBalancing) {
        this.loadBalancing = Objects.requireNonNull(loadBalancing, "loadBalancing");
        return self();
    }

    /**
     * When true, a new worker instance is created for each call and discarded after it, with at most
     * {@code maxWorkers} alive at once; calls beyond that wait in one queue for the first free slot
     * (load balancing does not apply). False by default.
     */
    public B onDemand(boolean onDemand) {
        this.onDemand = onDemand;
        return self();
    }

    /**
     * Bounds the calls in flight (queued or running) per worker (SPEC W5); unbounded by default. In an
     * on-demand pool the bound is {@code maxWorkers * maxQueuedTasks} for the whole pool. When the
     * bound is reached, {@code submit} blocks until there is room, or fails fast if
     * {@link #blockWhenFull(boolean) blockWhenFull(false)}. A call is never dropped.
     */
    public B maxQueuedTasks(int maxQueuedTasks) {
        if (maxQueuedTasks < 1) {
            throw new IllegalArgumentException("maxQueuedTasks must be >= 1, got: " + maxQueuedTasks);
        }
        this.maxQueuedTasks = maxQueuedTasks;
        return self();
    }

    /**
     * With {@code false}, a submit to a full worker throws
     * {@link java.util.concurrent.RejectedExecutionException} instead of blocking. True by default.
     */
    public B blockWhenFull(boolean blockWhenFull) {
        this.blockWhenFull = blockWhenFull;
        return self();
    }

    /**
     * The limiter every worker of the pool shares (a {@link dev.concurry.limit.LimitSet} or a pool of
     * sets), returned by {@link Worker#limits()} (SPEC L20). Replaces limits set before. A set whose
     * backend does not suit the mode is refused at {@code init()}.
     */
    public B limits(Limiter limiter) {
        this.limiter = Objects.requireNonNull(limiter, "limiter");
        this.specs = List.of();
        return self();
    }

    /**
     * Plain limit specifications; the pool builds one set of the backend its mode needs, shared by all
     * its workers (unless {@link #sharedLimits(boolean) sharedLimits(false)}), and closes it when the
     * pool closes. Replaces limits set before.
     */
    public B limits(Limit... specs) {
        this.specs = List.of(specs);
        this.limiter = null;
        return self();
    }

    /**
     * With {@code false}, plain specs given to {@link #limits(Limit...)} become one private set per
     * worker: each worker its own quota. True (one set shared by the pool) by default. Not available
     * with a given {@link Limiter} (always shared) or on-demand pools (an instance lives for one call).
     */
    public B sharedLimits(boolean sharedLimits) {
        this.sharedLimits = sharedLimits;
        return self();
    }

    /** How long {@code close()} waits for calls to finish before interrupting them; 30 s by default. */
    public B closeTimeout(Duration closeTimeout) {
        Objects.requireNonNull(closeTimeout, "closeTimeout");
        if (closeTimeout.isNegative()) {
            throw new IllegalArgumentException("closeTimeout must be >= 0, got: " + closeTimeout);
        }
        this.closeTimeout = closeTimeout;
        return self();
    }

    /**
     * With {@code true}, {@code close()} cancels the calls still queued instead of running them; false
     * (finish them, within the close timeout) by default.
     */
    public B cancelQueuedOnClose(boolean cancelQueuedOnClose) {
        this.cancelQueuedOnClose = cancelQueuedOnClose;
        return self();
    }

    /** Names the pool (in thread names, stats and messages); derived from the worker type by default. */
    public B name(String name) {
        Objects.requireNonNull(name, "name");
        if (name.isBlank()) {
            throw new IllegalArgumentException("name must not be blank");
        }
        this.name = name;
        return self();
    }

    /**
     * Retries every call of the pool under {@code policy} (SPEC R1–R3); {@link RetryPolicy#none()} (one
     * attempt) by default. A single call can use another policy with
     * {@link WorkerPool#submit(RetryPolicy, WorkerCall)}.
     *
     * <pre>{@code
     * RetryPolicy<Object> retry = RetryPolicy.builder()
     *         .maxAttempts(5).retryOn(IOException.class)
     *         .backoff(Backoff.EXPONENTIAL, Duration.ofSeconds(1)).maxWait(Duration.ofSeconds(30)).jitter(0.3)
     *         .build();
     * WorkerPool<AiWorker> pool = Worker.options(AiWorker.class).mode(Mode.THREAD).maxWorkers(10)
     *         .limits(limits).retry(retry).init(() -> new AiWorker(client));
     * }</pre>
     *
     * <p>Each attempt is a separate call, dispatched to a worker chosen by the load balancer (not
     * necessarily the same one), so limits acquired inside the worker's method are acquired and
     * released by each attempt (SPEC R2). Between attempts the call is on no worker: the backoff is a
     * timer on the pool's {@link #clock(MonotonicClock) clock}, and the worker serves other calls
     * meanwhile. The future completes with the first accepted result, or fails with the original
     * exception of an attempt that is not retryable, or with a
     * {@link dev.concurry.retry.RetriesExhaustedException} carrying every attempt's failure or
     * rejected result (SPEC R3). Cancelling the future cancels the running attempt (interrupting it)
     * or the pending backoff, and no further attempt starts.
     *
     * <p>Back-pressure ({@link #maxQueuedTasks(int)}) counts a retried call once: its submission
     * takes a queue slot (blocking or failing fast as usual) and keeps it through every attempt and
     * backoff until the final outcome; later attempts never wait for room, so a worker may briefly
     * hold more attempts than the bound when retries land on it. {@link WorkerPool#stats()} counts
     * attempts. On {@code close()}, calls waiting for a backoff are cancelled (their futures fail with
     * a {@link java.util.concurrent.CancellationException}); a running attempt ends like any call.
     * In {@link Mode#SYNC} the first attempt runs on the caller, later ones on a virtual thread.
     *
     * <p>The policy's {@code retryUntil} validators see the result of every call of the pool; give a
     * call-specific validator per call instead.
     */
    public B retry(RetryPolicy<?> policy) {
        this.retry = Objects.requireNonNull(policy, "policy");
        return self();
    }

    /**
     * The clock that times retry backoffs; {@link MonotonicClock#system()} by default. Tests pass a
     * {@link dev.concurry.time.ManualClock} to make backoffs exact and instant:
     *
     * <pre>{@code
     * ManualClock clock = new ManualClock();
     * WorkerPool<Probe> pool = Worker.options(Probe.class).mode(Mode.THREAD).retry(policy).clock(clock).init(Probe::new);
     * clock.advance(Duration.ofSeconds(1));    // starts the attempts whose backoff ended
     * }</pre>
     */
    public B clock(MonotonicClock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        return self();
    }

    /**
     * {@link Mode#PROCESS} only: options for each worker's child JVM, placed before its main class,
     * such as {@code "-Xmx256m"}, {@code "-XX:+UseSerialGC"} or {@code "-Dkey=value"}. None by
     * default: the child runs the parent's {@code java} with the parent's class path and the JVM's
     * defaults (the parent's own JVM options are not copied). Replaces options set before.
     *
     * <pre>{@code
     * Worker.options(DbWorker.class).mode(Mode.PROCESS).jvmOptions("-Xmx256m", "-XX:+UseSerialGC")
     * }</pre>
     */
    public B jvmOptions(String... options) {
        for (String option : options) {
            if (option == null || option.isBlank()) {
                throw new IllegalArgumentException(
                        "jvmOptions must not be null or blank: " + java.util.Arrays.toString(options));
            }
        }
        this.jvmOptions = List.of(options);
        return self();
    }

    /**
     * {@link Mode#PROCESS} and {@link Mode#CLUSTER}: extends or narrows what Java serialization may create
     * on either side of the pipe to the worker processes, or of the messages to the cluster's members (SPEC W8), in the JDK's
     * {@link java.io.ObjectInputFilter.Config#createFilter(String) filter syntax}. The pattern is
     * consulted first; where it neither allows nor refuses, the built-in rules decide: allowed are
     * primitives and arrays, the {@code dev.concurry} classes, the worker type's package, serializable
     * lambdas ({@code SerializedLambda}), the value types of {@code java.base} ({@code java.lang},
     * {@code java.util}, {@code java.util.concurrent}, {@code java.time}, {@code java.math},
     * {@code java.net.URI}, {@code java.util.regex.Pattern}), every exception and enum, and the classes
     * of the class path except well-known gadget libraries (commons-collections functors,
     * commons-beanutils, groovy runtime, c3p0, ...); everything else (other JDK modules such as
     * {@code javax.management}, {@code java.rmi} or {@code jdk.*}) is refused, with a
     * {@link SerializationFailedException} naming the class. Built-in limits: depth 1,000, 10 million
     * references, arrays of 100 million elements, 1 GiB per message; a pattern can lower them.
     *
     * <pre>{@code
     * .serializationFilter("java.sql.Timestamp;!com.acme.internal.**")  // allow one JDK class, refuse a package
     * .serializationFilter("maxdepth=50;maxarray=100000")                  // stricter limits
     * }</pre>
     */
    public B serializationFilter(String pattern) {
        Objects.requireNonNull(pattern, "pattern");
        java.io.ObjectInputFilter.Config.createFilter(pattern); // IllegalArgumentException names a bad pattern
        this.serializationFilter = pattern;
        return self();
    }

    /**
     * {@link Mode#CLUSTER} only, and required there: the cluster whose members host the workers, from a
     * cluster module, such as {@code HazelcastCluster.of(hazelcastInstance)} ({@code concurry-hazelcast}).
     * The members' class paths must hold the worker classes.
     *
     * <pre>{@code
     * Worker.options(AiWorker.class).mode(Mode.CLUSTER).cluster(HazelcastCluster.of(hz)).maxWorkers(30)
     * }</pre>
     */
    public B cluster(WorkerCluster cluster) {
        this.cluster = Objects.requireNonNull(cluster, "cluster");
        return self();
    }

    /**
     * {@link Mode#PROCESS} only: the longest a call may run in its worker's child JVM (counted from when
     * it is sent to the child: time queued in the pool does not count); none by default. A call still running then fails
     * with {@link CallTimeoutException}, and its child is killed: a hung or stuck child is replaced by a
     * fresh one for the next call. The worker's state is lost with the child, so the calls queued for
     * that worker fail with {@link WorkerDiedException}, as when a child dies. Cancelling a call only
     * interrupts it; this is the way to stop a call that ignores interrupts. Other modes refuse it at
     * {@code init()}: a thread cannot be killed safely.
     *
     * <pre>{@code
     * Worker.options(Parser.class).mode(Mode.PROCESS).callTimeout(Duration.ofMinutes(5)).init(Parser::new)
     * }</pre>
     */
    public B callTimeout(Duration callTimeout) {
        Objects.requireNonNull(callTimeout, "callTimeout");
        if (callTimeout.isNegative() || callTimeout.isZero()) {
            throw new IllegalArgumentException("callTimeout must be positive, got: " + callTimeout);
        }
        this.callTimeout = callTimeout;
        return self();
    }

    /** The options as an immutable value, checked for contradictions. */
    final PoolConfig config(String defaultName) {
        if (!sharedLimits && limiter != null) {
            throw new IllegalArgumentException("sharedLimits(false) needs plain specs (limits(Limit...)):"
                    + " a given Limiter is always shared by all workers");
        }
        if (!sharedLimits && onDemand && !specs.isEmpty()) {
            throw new IllegalArgumentException("sharedLimits(false) gives each worker its own quota, which an"
                    + " on-demand pool cannot keep (it creates a worker per call); use shared limits");
        }
        if (mode == Mode.CLUSTER && cluster == null) {
            throw new IllegalArgumentException("Mode.CLUSTER needs the cluster that hosts the workers:"
                    + " .cluster(HazelcastCluster.of(hazelcastInstance)) from concurry-hazelcast");
        }
        if (mode != Mode.CLUSTER && cluster != null) {
            throw new IllegalArgumentException("cluster(" + cluster.name() + ") is only for Mode.CLUSTER, but the mode"
                    + " is " + mode + ": add .mode(Mode.CLUSTER) or drop the cluster");
        }
        if (!callTimeout.isZero() && mode != Mode.PROCESS) {
            throw new IllegalArgumentException("callTimeout(" + callTimeout + ") needs Mode.PROCESS, whose stuck"
                    + " calls are stopped by killing their child JVM; a " + mode + " worker's thread cannot be killed");
        }
        return new PoolConfig(name != null ? name : defaultName, mode, maxWorkers, loadBalancing, onDemand,
                maxQueuedTasks, blockWhenFull, limiter, specs, sharedLimits, closeTimeout, cancelQueuedOnClose, retry,
                clock,
                jvmOptions, serializationFilter, cluster, callTimeout);
    }
}
