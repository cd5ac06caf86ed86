package dev.concurry.worker;

import dev.concurry.limit.Limiter;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A worker per call (SPEC W4): calls wait in one FIFO queue; up to {@code maxWorkers} runner threads
 * (platform or virtual, by mode) take them, each creating a fresh instance, running the call and
 * discarding it. A runner ends when the queue is empty, so an idle pool holds no thread.
 *
 * <p>No lost wake-up: a submitter enqueues, then starts a runner if fewer than the maximum run; a
 * runner that finds the queue empty first leaves the count, then looks again. Either the submitter
 * sees the lower count, or the runner sees the call.
 */
final class OnDemandDispatcher<W extends Worker> implements Dispatcher<W> {
    private final PoolConfig config;
    private final WorkerFactory<W> factory;
    private final Limiter limiter;
    private final CallQueue queue = new CallQueue();
    private final Admission admission;
    private final Runnable releaseAdmission;
    private final AtomicInteger runners = new AtomicInteger();
    private final AtomicInteger alive = new AtomicInteger();
    private final AtomicLong total = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong completed = new AtomicLong();
    private final AtomicLong callNanos = new AtomicLong();
    private final AtomicLong threadNumber = new AtomicLong();
    private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
    private final Set<Invocation<W, ?>> running = ConcurrentHashMap.newKeySet();

    OnDemandDispatcher(PoolConfig config, WorkerFactory<W> factory, Limiter limiter) {
        this.config = config;
        this.factory = factory;
        this.limiter = limiter;
        long bound = (long) config.maxWorkers() * config.maxQueuedTasks();
        this.admission = config.bounded() ? new Admission((int) Math.min(bound, Integer.MAX_VALUE)) : null;
        this.releaseAdmission = admission != null ? admission::release : null;
    }

    @Override
    public void dispatch(Invocation<W, ?> call) {
        if (admission != null && call.needsSlot()) {
            admission.acquire(config.blockWhenFull(), config.name());
            call.slotTaken(releaseAdmission);
        }
        total.incrementAndGet();
        call.onCancelledBeforeStart(() -> {
            queue.remove(call);
            call.releaseSlot();
        });
        if (config.mode() == Mode.SYNC) {
            runOne(call);
            return;
        }
        try {
            queue.put(call, config.name());
        } catch (RuntimeException e) {
            total.decrementAndGet();
            call.releaseSlot();
            throw e;
        }
        startRunnerIfNeeded();
    }

    private void startRunnerIfNeeded() {
        while (true) {
            int n = runners.get();
            if (n >= config.maxWorkers()) {
                return;
            }
            if (runners.compareAndSet(n, n + 1)) {
                String name = "concurry-" + config.name() + "-worker-ondemand-" + threadNumber.incrementAndGet();
                Thread.Builder builder = config.mode() == Mode.VIRTUAL
                        ? Thread.ofVirtual().name(name)
                        : Thread.ofPlatform().name(name).daemon(true);
                Thread thread = builder.unstarted(() -> {
                    try {
                        runQueue();
                    } finally {
                        threads.remove(Thread.currentThread());
                    }
                });
                threads.add(thread);
                thread.start();
                return;
            }
        }
    }

    @SuppressWarnings("unchecked")
    private void runQueue() {
        while (true) {
            Invocation<?, ?> call = queue.poll();
            if (call == null) {
                runners.decrementAndGet();
                if (queue.size() == 0) {
                    return;
                }
                int n = runners.get();
                if (n >= config.maxWorkers() || !runners.compareAndSet(n, n + 1)) {
                    return; // another runner took over
                }
                continue;
            }
            runOne((Invocation<W, ?>) call);
            Thread.interrupted(); // an interrupt meant for that call must not reach the next one
        }
    }

    private void runOne(Invocation<W, ?> call) {
        if (!call.start()) {
            return;
        }
        alive.incrementAndGet();
        running.add(call);
        long start = System.nanoTime();
        boolean threw;
        try {
            W worker = factory.get();
            worker.bind(limiter);
            threw = call.run(worker);
        } catch (Throwable t) { // the factory failed: the call fails with its exception
            call.fail(t);
            threw = true;
        }
        callNanos.addAndGet(System.nanoTime() - start);   // a call's time includes creating its worker
        running.remove(call);
        completed.incrementAndGet();   // before failed: see WorkerSlot
        if (threw) {
            failed.incrementAndGet();
        }
        alive.decrementAndGet();
        call.releaseSlot();
        call.complete();
    }

    @Override
    public void shutdown() {
        if (admission != null) {
            admission.close();
        }
        queue.close();
    }

    @Override
    public void cancelQueued() {
        queue.drain().forEach(Invocation::cancelIfQueued);
    }

    @Override
    public void interruptRunning() {
        running.forEach(call -> call.future.cancel(true));
    }

    @Override
    public boolean awaitTermination(long deadlineNanos) throws InterruptedException {
        while (true) {
            boolean waited = false;
            for (Thread thread : threads) {
                if (thread == Thread.currentThread()) {
                    continue; // close() called from a call: do not wait for ourselves
                }
                waited = true;
                if (!WorkerSlot.join(thread, deadlineNanos)) {
                    return false;
                }
            }
            if (!waited) {
                return true;
            }
        }
    }

    @Override
    public PoolStats stats() {
        int active = alive.get();
        int queued = queue.size();
        long failedNow = failed.get();
        long completedNow = completed.get();
        WorkerStats all = new WorkerStats(0, active, queued, total.get(), failedNow, completedNow, callNanos.get());
        return new PoolStats(config.name(), config.mode(), true, active, queued, List.of(all));
    }
}
