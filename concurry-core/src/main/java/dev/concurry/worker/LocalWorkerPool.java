package dev.concurry.worker;

import dev.concurry.retry.RetryPolicy;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pool behind {@link WorkerPool}: its calls run in this JVM (SYNC, THREAD, VIRTUAL), in child JVMs
 * (PROCESS) or on cluster members (CLUSTER); the queues, load balancing and retries are here in every mode.
 */
final class LocalWorkerPool<W extends Worker> implements WorkerPool<W> {
    private static final Logger LOG = LoggerFactory.getLogger(LocalWorkerPool.class);
    /** How long close() waits, after interrupting, for calls to end. */
    private static final Duration AFTER_INTERRUPT = Duration.ofSeconds(5);

    private final PoolConfig config;
    private final Dispatcher<W> dispatcher;
    private final LimitsPlan limits;
    private final BackoffTimer backoffTimer;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final CountDownLatch terminated = new CountDownLatch(1);

    private LocalWorkerPool(PoolConfig config, Dispatcher<W> dispatcher, LimitsPlan limits) {
        this.config = config;
        this.dispatcher = dispatcher;
        this.limits = limits;
        this.backoffTimer = new BackoffTimer(config.clock());
    }

    static <W extends Worker> WorkerPool<W> start(PoolConfig config, Class<? extends W> type,
            WorkerFactory<W> factory) {
        if (config.mode() == Mode.PROCESS && config.onDemand()) {
            throw new IllegalArgumentException("onDemand(true) is not available with Mode.PROCESS: it would start a"
                    + " JVM for every call; use a fixed pool (maxWorkers) of process workers");
        }
        if (config.mode() == Mode.CLUSTER && config.onDemand()) {
            throw new IllegalArgumentException("onDemand(true) is not available with Mode.CLUSTER: a worker lives on"
                    + " its member for the pool's lifetime; use a fixed pool (maxWorkers) of cluster workers");
        }
        LimitsPlan limits = LimitsPlan.of(config);
        try {
            Dispatcher<W> dispatcher = config.onDemand()
                    ? new OnDemandDispatcher<>(config, factory, limits.nextWorker())
                    : config.mode() == Mode.PROCESS
                            ? SlotDispatcher.startRemote(config,
                                    new ChildLauncher(config, type, factory, limits.forChildren()))
                            : config.mode() == Mode.CLUSTER
                                    ? SlotDispatcher.startRemote(config,
                                            new ClusterLauncher(config, type, factory, limits.forChildren()))
                                    : SlotDispatcher.start(config, factory, limits);
            return new LocalWorkerPool<>(config, dispatcher, limits);
        } catch (RuntimeException | Error e) {
            limits.close();
            throw e;
        }
    }

    static IllegalStateException closedException(String poolName) {
        return new IllegalStateException("worker pool '" + poolName + "' is closed; it accepts no more calls");
    }

    @Override
    @SuppressWarnings("unchecked")
    public <R> CompletableFuture<R> submit(WorkerCall<W, R> call) {
        // The pool's policy validates the results of every call; its type is the user's promise.
        return submit((RetryPolicy<R>) config.retry(), call);
    }

    @Override
    @SuppressWarnings("unchecked")
    public <R> CompletableFuture<R> submit(RetryPolicy<? super R> retry, WorkerCall<W, R> call) {
        java.util.Objects.requireNonNull(retry, "retry");
        java.util.Objects.requireNonNull(call, "call");
        if (closed.get()) {
            throw closedException(config.name());
        }
        if (retry.isActive()) {
            // Safe: the policy only reads results of type R (its validators accept a supertype of R).
            return RetriedCall.start(this, (RetryPolicy<R>) retry, call);
        }
        Invocation<W, R> invocation = new Invocation<>(call);
        dispatcher.dispatch(invocation);
        return invocation.future;
    }

    @Override
    public <R> R call(WorkerCall<W, R> call) {
        return Futures.join(submit(call), true);
    }

    @Override
    public <R> R call(RetryPolicy<? super R> retry, WorkerCall<W, R> call) {
        return Futures.join(submit(retry, call), true);
    }

    Dispatcher<W> dispatcher() {
        return dispatcher;
    }

    BackoffTimer backoffTimer() {
        return backoffTimer;
    }

    boolean isClosed() {
        return closed.get();
    }

    @Override
    public PoolStats stats() {
        return dispatcher.stats();
    }

    @Override
    public String name() {
        return config.name();
    }

    @Override
    public Mode mode() {
        return config.mode();
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            awaitTerminated();
            return;
        }
        boolean interrupted = false;
        try {
            dispatcher.shutdown();
            backoffTimer.close(); // calls waiting to retry are cancelled: the pool takes no more attempts
            if (config.cancelQueuedOnClose()) {
                dispatcher.cancelQueued();
            }
            boolean done;
            try {
                // Saturated, then compared by difference: a timeout of centuries waits, never overflows.
                done = dispatcher
                        .awaitTermination(System.nanoTime() + TimeUnit.NANOSECONDS.convert(config.closeTimeout()));
            } catch (InterruptedException e) {
                interrupted = true;
                done = false;
            }
            if (!done) {
                dispatcher.cancelQueued();
                dispatcher.interruptRunning();
                try {
                    done = dispatcher.awaitTermination(System.nanoTime() + AFTER_INTERRUPT.toNanos());
                } catch (InterruptedException e) {
                    interrupted = true;
                }
                if (!done) {
                    LOG.warn("worker pool '{}': calls still running {} after being interrupted; they ignore"
                            + " interrupts, so their threads outlive close()", config.name(), AFTER_INTERRUPT);
                }
            }
        } finally {
            dispatcher.destroy();
            limits.close();
            terminated.countDown();
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void awaitTerminated() {
        try {
            terminated.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "WorkerPool[" + config.name() + ", " + config.mode() + ", maxWorkers=" + config.maxWorkers()
                + (config.onDemand() ? ", on demand" : "") + (closed.get() ? ", closed" : "") + "]";
    }
}
