package dev.concurry.worker;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A fixed set of workers and the load balancer in front of them (SPEC W4). Least-active and
 * least-total choose and count under one lock, so concurrent submitters never pile onto the worker
 * they all saw as least loaded (a race Concurry has).
 */
final class SlotDispatcher<W extends Worker> implements Dispatcher<W> {
    private final List<WorkerSlot<W>> slots;
    private final PoolConfig config;
    private final AtomicLong next = new AtomicLong();
    private final ReentrantLock choosing = new ReentrantLock();

    private SlotDispatcher(PoolConfig config, List<WorkerSlot<W>> slots) {
        this.config = config;
        this.slots = List.copyOf(slots);
    }

    /** Creates every worker first (a failing factory leaves no thread behind), then starts the threads. */
    static <W extends Worker> SlotDispatcher<W> start(PoolConfig config, WorkerFactory<W> factory, LimitsPlan limits) {
        List<WorkerSlot<W>> slots = new ArrayList<>(config.maxWorkers());
        for (int i = 0; i < config.maxWorkers(); i++) {
            W worker = factory.get();
            if (worker == null) {
                throw new IllegalStateException("the worker factory returned null");
            }
            worker.bind(limits.nextWorker());
            slots.add(WorkerSlot.create(i, worker, config));
        }
        for (WorkerSlot<W> slot : slots) {
            if (slot instanceof WorkerSlot.OwnThread<W> owned) {
                owned.start();
            }
        }
        return new SlotDispatcher<>(config, slots);
    }

    /**
     * PROCESS and CLUSTER: starts every remote worker in parallel with {@code launcher} (a failing factory
     * leaves none behind), then starts the slots' threads.
     */
    static <W extends Worker> SlotDispatcher<W> startRemote(PoolConfig config, RemoteLauncher launcher) {
        List<? extends WorkerEndpoint> endpoints;
        try {
            endpoints = launcher.launchAll(0, config.maxWorkers());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while starting remote workers", e);
        }
        List<WorkerSlot<W>> slots = new ArrayList<>(endpoints.size());
        for (int i = 0; i < endpoints.size(); i++) {
            WorkerSlot.Remote<W> slot = new WorkerSlot.Remote<>(i, config, launcher, endpoints.get(i));
            slots.add(slot);
            slot.start();
        }
        return new SlotDispatcher<>(config, slots);
    }

    /** The current endpoint of each remote worker (PROCESS and CLUSTER only). */
    List<WorkerEndpoint> endpoints() {
        return slots.stream().filter(s -> s instanceof WorkerSlot.Remote<W>)
                .map(s -> ((WorkerSlot.Remote<W>) s).endpoint()).toList();
    }

    @Override
    public void destroy() {
        slots.forEach(WorkerSlot::destroy);
    }

    @Override
    public void dispatch(Invocation<W, ?> call) {
        choose().submit(call);
    }

    /** The next worker, with its in-flight and total counts already raised. */
    private WorkerSlot<W> choose() {
        int n = slots.size();
        LoadBalancing policy = n == 1 ? LoadBalancing.ROUND_ROBIN : config.loadBalancing();
        WorkerSlot<W> chosen;
        switch (policy) {
            case ROUND_ROBIN -> chosen = slots.get((int) Math.floorMod(next.getAndIncrement(), (long) n));
            case RANDOM -> chosen = slots.get(ThreadLocalRandom.current().nextInt(n));
            default -> {
                choosing.lock();
                try {
                    chosen = slots.get(0);
                    for (WorkerSlot<W> slot : slots) {
                        long load = policy == LoadBalancing.LEAST_ACTIVE ? slot.inFlight.get() : slot.total.get();
                        long best = policy == LoadBalancing.LEAST_ACTIVE ? chosen.inFlight.get() : chosen.total.get();
                        if (load < best) {
                            chosen = slot;
                        }
                    }
                    chosen.inFlight.incrementAndGet();
                    chosen.total.incrementAndGet();
                    return chosen;
                } finally {
                    choosing.unlock();
                }
            }
        }
        chosen.inFlight.incrementAndGet();
        chosen.total.incrementAndGet();
        return chosen;
    }

    @Override
    public void shutdown() {
        slots.forEach(WorkerSlot::shutdown);
    }

    @Override
    public void cancelQueued() {
        slots.forEach(WorkerSlot::cancelQueued);
    }

    @Override
    public void interruptRunning() {
        slots.forEach(WorkerSlot::interruptRunning);
    }

    @Override
    public boolean awaitTermination(long deadlineNanos) throws InterruptedException {
        boolean all = true;
        for (WorkerSlot<W> slot : slots) {
            all &= slot.awaitTermination(deadlineNanos);
        }
        return all;
    }

    @Override
    public PoolStats stats() {
        List<WorkerStats> workers = slots.stream().map(WorkerSlot::stats).toList();
        int queued = workers.stream().mapToInt(WorkerStats::queued).sum();
        return new PoolStats(config.name(), config.mode(), false, slots.size(), queued, workers);
    }
}
