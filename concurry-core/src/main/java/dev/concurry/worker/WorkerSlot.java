package dev.concurry.worker;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One persistent worker instance with its counters and the mode-specific way its calls run. The
 * counters are updated by the dispatcher ({@code inFlight}, {@code total}) and by the runner
 * ({@code active}, {@code completed}, {@code failed}, {@code callNanos}). The runner counts a call in
 * {@code completed} before {@code failed}, and {@link #stats()} reads them in the other order, so a
 * snapshot never shows more failed than completed calls.
 */
abstract sealed class WorkerSlot<W extends Worker> {
    final int index;
    final W worker;
    final String poolName;
    private final Admission admission;
    private final Runnable releaseAdmission;
    private final boolean blockWhenFull;
    final AtomicInteger inFlight = new AtomicInteger();
    final AtomicInteger active = new AtomicInteger();
    final AtomicLong total = new AtomicLong();
    final AtomicLong failed = new AtomicLong();
    final AtomicLong completed = new AtomicLong();
    final AtomicLong callNanos = new AtomicLong();
    final Set<Invocation<W, ?>> running = ConcurrentHashMap.newKeySet();

    WorkerSlot(int index, W worker, PoolConfig config) {
        this.index = index;
        this.worker = worker;
        this.poolName = config.name();
        this.admission = config.bounded() ? new Admission(config.maxQueuedTasks()) : null;
        this.releaseAdmission = admission != null ? admission::release : null;
        this.blockWhenFull = config.blockWhenFull();
    }

    static <W extends Worker> WorkerSlot<W> create(int index, W worker, PoolConfig config) {
        return switch (config.mode()) {
            case SYNC -> new Inline<>(index, worker, config);
            case THREAD -> new OwnThread<>(index, worker, config);
            case VIRTUAL -> new VirtualPerCall<>(index, worker, config);
            case PROCESS, CLUSTER ->
                throw new IllegalArgumentException("remote workers are created by SlotDispatcher.startRemote");
        };
    }

    /** Accepts a call whose {@code inFlight} and {@code total} the dispatcher already counted. */
    final void submit(Invocation<W, ?> call) {
        if (admission != null && call.needsSlot()) {
            try {
                admission.acquire(blockWhenFull, poolName);
            } catch (RuntimeException e) {
                inFlight.decrementAndGet();
                total.decrementAndGet();
                throw e;
            }
            call.slotTaken(releaseAdmission);
        }
        call.onCancelledBeforeStart(() -> {
            dequeue(call);
            finished(call);
        });
        try {
            enqueue(call);
        } catch (RuntimeException e) {
            total.decrementAndGet();
            finished(call);
            throw e;
        }
    }

    /** Runs a call on the current thread unless it was cancelled first. */
    final void execute(Invocation<W, ?> call) {
        if (!call.start()) {
            return; // cancelled while queued; its cancel already freed its place
        }
        active.incrementAndGet();
        running.add(call);
        long start = System.nanoTime();
        boolean threw = runCall(call);
        callNanos.addAndGet(System.nanoTime() - start);
        running.remove(call);
        completed.incrementAndGet();
        if (threw) {
            failed.incrementAndGet();
        }
        active.decrementAndGet();
        finished(call);
        call.complete();
    }

    /** Runs a started call to its outcome on the current thread; returns whether it threw. */
    boolean runCall(Invocation<W, ?> call) {
        return call.run(worker);
    }

    /** Frees what outlives the slot's threads (a child process); called last by close(). */
    void destroy() {
    }

    private void finished(Invocation<W, ?> call) {
        inFlight.decrementAndGet();
        call.releaseSlot();
    }

    void shutdown() {
        if (admission != null) {
            admission.close();
        }
    }

    final void interruptRunning() {
        running.forEach(call -> call.future.cancel(true));
    }

    final WorkerStats stats() {
        int queued = queued();
        long failedNow = failed.get();
        long completedNow = completed.get();
        long nanos = callNanos.get();
        return new WorkerStats(index, active.get(), queued, total.get(), failedNow, completedNow, nanos);
    }

    abstract void enqueue(Invocation<W, ?> call);

    abstract void dequeue(Invocation<W, ?> call);

    abstract int queued();

    abstract void cancelQueued();

    abstract boolean awaitTermination(long deadlineNanos) throws InterruptedException;

    /** Waits for {@code thread} until the deadline; never waits for the current thread (close() from a call). */
    static boolean join(Thread thread, long deadlineNanos) throws InterruptedException {
        if (thread == Thread.currentThread()) {
            return true;
        }
        long left = deadlineNanos - System.nanoTime();
        if (left > 0) {
            thread.join(java.time.Duration.ofNanos(left));
        }
        return !thread.isAlive();
    }

    /** SYNC: the call runs on the caller's thread inside {@code submit}. */
    static final class Inline<W extends Worker> extends WorkerSlot<W> {
        Inline(int index, W worker, PoolConfig config) {
            super(index, worker, config);
        }

        @Override
        void enqueue(Invocation<W, ?> call) {
            execute(call);
        }

        @Override
        void dequeue(Invocation<W, ?> call) {
        }

        @Override
        int queued() {
            return 0;
        }

        @Override
        void cancelQueued() {
        }

        @Override
        boolean awaitTermination(long deadlineNanos) {
            return true;
        }
    }

    /** THREAD: one platform thread takes calls from a FIFO queue, one at a time (SPEC W2). */
    static sealed class OwnThread<W extends Worker> extends WorkerSlot<W> permits Remote {
        final CallQueue queue = new CallQueue();
        final Thread thread;

        OwnThread(int index, W worker, PoolConfig config) {
            super(index, worker, config);
            thread = Thread.ofPlatform().name("concurry-" + config.name() + "-worker-" + index).daemon(true)
                    .unstarted(this::loop);
        }

        void start() {
            thread.start();
        }

        @SuppressWarnings("unchecked")
        private void loop() {
            for (Invocation<?, ?> call; (call = queue.take()) != null;) {
                execute((Invocation<W, ?>) call);
                Thread.interrupted(); // an interrupt meant for that call must not reach the next one
            }
            loopEnded();
        }

        /** Called on the worker thread once the queue is closed and empty. */
        void loopEnded() {
        }

        @Override
        void enqueue(Invocation<W, ?> call) {
            queue.put(call, poolName);
        }

        @Override
        void dequeue(Invocation<W, ?> call) {
            queue.remove(call);
        }

        @Override
        int queued() {
            return queue.size();
        }

        @Override
        void shutdown() {
            super.shutdown();
            queue.close();
        }

        @Override
        void cancelQueued() {
            queue.drain().forEach(Invocation::cancelIfQueued);
        }

        @Override
        boolean awaitTermination(long deadlineNanos) throws InterruptedException {
            return join(thread, deadlineNanos);
        }
    }

    /** VIRTUAL: every call starts at once on its own virtual thread; calls may overlap (SPEC W2). */
    static final class VirtualPerCall<W extends Worker> extends WorkerSlot<W> {
        private final ReentrantLock lock = new ReentrantLock();
        private final Set<Thread> threads = ConcurrentHashMap.newKeySet();
        private final Set<Invocation<W, ?>> pending = ConcurrentHashMap.newKeySet();
        private final Thread.Builder builder;
        private boolean closed;

        VirtualPerCall(int index, W worker, PoolConfig config) {
            super(index, worker, config);
            builder = Thread.ofVirtual().name("concurry-" + config.name() + "-worker-" + index + "-call-", 0);
        }

        @Override
        void enqueue(Invocation<W, ?> call) {
            lock.lock(); // orders starting a thread against shutdown(), so close() sees every thread
            try {
                if (closed) {
                    throw LocalWorkerPool.closedException(poolName);
                }
                pending.add(call);
                Thread thread = builder.unstarted(() -> {
                    try {
                        pending.remove(call);
                        execute(call);
                    } finally {
                        threads.remove(Thread.currentThread());
                    }
                });
                threads.add(thread);
                thread.start();
            } finally {
                lock.unlock();
            }
        }

        @Override
        void dequeue(Invocation<W, ?> call) {
            pending.remove(call);
        }

        @Override
        int queued() {
            return pending.size();
        }

        @Override
        void shutdown() {
            super.shutdown();
            lock.lock();
            try {
                closed = true;
            } finally {
                lock.unlock();
            }
        }

        @Override
        void cancelQueued() {
            pending.forEach(Invocation::cancelIfQueued);
        }

        @Override
        boolean awaitTermination(long deadlineNanos) throws InterruptedException {
            for (Thread thread : threads) {
                if (!join(thread, deadlineNanos)) {
                    return false;
                }
            }
            return true;
        }
    }

    /**
     * PROCESS and CLUSTER: the worker lives away from the pool, in a child JVM (SPEC W8) or on a cluster
     * member (SPEC W2), behind a {@link WorkerEndpoint}. Calls wait in this slot's FIFO queue, as for
     * {@link OwnThread}; the slot's thread sends the next call and waits for its answer, so the remote
     * worker runs one call at a time, in order, and a queued call is cancelled here without the worker
     * ever seeing it. Cancelling the running call interrupts this thread, which sends CANCEL: the remote
     * side interrupts the call and the worker lives on.
     *
     * <p>When the worker is lost (its process died, its member left), its running call fails with
     * {@link WorkerDiedException} and so does every call queued for it (their worker and its state are
     * gone), at once; the next call starts a new worker. Each call is serialized on the submitter's
     * thread, so a call that cannot be sent is refused by {@code submit} itself. With a call timeout
     * (PROCESS only), a call still unanswered when it passes fails with {@link CallTimeoutException} and
     * its child is killed (a death like any other).
     */
    static final class Remote<W extends Worker> extends OwnThread<W> {
        private final RemoteLauncher launcher;
        private final java.time.Duration callTimeout;
        private final java.util.Map<Invocation<?, ?>, byte[]> payloads = new ConcurrentHashMap<>();
        private final AtomicLong ids = new AtomicLong();
        private final ReentrantLock endpointLock = new ReentrantLock();
        private final String modeName;
        /** Guarded by endpointLock; replaced after a death. */
        private WorkerEndpoint endpoint;
        private boolean destroyed;

        Remote(int index, PoolConfig config, RemoteLauncher launcher, WorkerEndpoint endpoint) {
            super(index, null, config);
            this.launcher = launcher;
            this.modeName = "Mode." + config.mode();
            this.callTimeout = config.callTimeout();
            watch(endpoint);
            this.endpoint = endpoint;
        }

        /** The current endpoint (for tests and diagnostics). */
        WorkerEndpoint endpoint() {
            endpointLock.lock();
            try {
                return endpoint;
            } finally {
                endpointLock.unlock();
            }
        }

        private void watch(WorkerEndpoint watched) {
            watched.death().thenAccept(death -> {
                for (Invocation<?, ?> queued : queue.drain()) {
                    queued.failIfQueued(death.exception("before running this call (it was queued for that worker,"
                            + " whose state is lost)"));
                }
            });
        }

        @Override
        void enqueue(Invocation<W, ?> call) {
            byte[] payload;
            try {
                payload = ProcessProtocol.serialize(call.call);
            } catch (java.io.IOException | RuntimeException e) {
                throw new IllegalArgumentException("a call to a " + modeName + " worker must be serializable with"
                        + " everything it captures: " + e, e);
            }
            payloads.put(call, payload);
            try {
                super.enqueue(call);
            } catch (RuntimeException e) {
                payloads.remove(call);
                throw e;
            }
        }

        @Override
        void dequeue(Invocation<W, ?> call) {
            payloads.remove(call);
            super.dequeue(call);
        }

        @Override
        boolean runCall(Invocation<W, ?> call) {
            return runRemote(call);
        }

        @SuppressWarnings("unchecked") // the remote worker ran the call, so the result has its type R
        private <R> boolean runRemote(Invocation<W, R> call) {
            byte[] payload = payloads.remove(call);
            return call.runWith(() -> (R) remote(payload));
        }

        private Object remote(byte[] payload) throws Throwable {
            WorkerEndpoint target = liveEndpoint();
            long id = ids.incrementAndGet();
            java.util.concurrent.CompletableFuture<ProcessProtocol.Frame> response = target.call(id, payload);
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.NANOSECONDS.convert(callTimeout);
            boolean cancelSent = false;
            ProcessProtocol.Frame frame;
            while (true) {
                try {
                    frame = callTimeout.isZero()
                            ? response.get()
                            : response.get(deadline - System.nanoTime(), java.util.concurrent.TimeUnit.NANOSECONDS);
                    break;
                } catch (InterruptedException e) {
                    if (!cancelSent) { // the call was cancelled (or the pool is closing): tell the worker
                        target.cancel(id);
                        cancelSent = true;
                    }
                } catch (java.util.concurrent.ExecutionException e) {
                    throw e.getCause(); // WorkerDiedException
                } catch (java.util.concurrent.TimeoutException e) {
                    throw timedOut(target, id);
                }
            }
            if (frame.type() == ProcessProtocol.RESULT) {
                try {
                    return ProcessProtocol.deserialize(frame.payload(), launcher.filter, launcher.loader,
                            "the result of call #" + id);
                } catch (java.io.IOException | ClassNotFoundException e) {
                    throw new SerializationFailedException("cannot read the result of call #" + id
                            + " from " + target.describe() + ": " + e, e);
                }
            }
            throw ChildProcess.decodeFailure(frame.payload(), launcher.filter, launcher.loader,
                    "the exception of call #" + id);
        }

        /** Kills the child whose call {@code id} outlived the call timeout; the next call starts a new one. */
        private CallTimeoutException timedOut(WorkerEndpoint endpoint, long id) {
            ChildProcess target = (ChildProcess) endpoint;      // a call timeout needs Mode.PROCESS
            target.kill("call #" + id + " ran longer than the call timeout of " + callTimeout);
            int exitCode = -1;
            try {
                exitCode = target.death().get(5, java.util.concurrent.TimeUnit.SECONDS).exitCode();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                // the exit code stays unknown
            }
            return new CallTimeoutException(target.pid(), exitCode, callTimeout, "call #" + id + " on worker process "
                    + target.pid() + " of pool '" + poolName + "' did not finish within the call timeout of "
                    + callTimeout + ": the process was killed (the worker's state is lost) and the next call starts"
                    + " a new one");
        }

        /** The endpoint to send to: the current one, or a new one if the worker was lost. */
        private WorkerEndpoint liveEndpoint() throws InterruptedException {
            endpointLock.lock();
            try {
                if (destroyed) {
                    throw LocalWorkerPool.closedException(poolName);
                }
                if (!endpoint.death().isDone()) {
                    return endpoint;
                }
            } finally {
                endpointLock.unlock();
            }
            WorkerEndpoint fresh = launcher.launch(index); // outside the lock: destroy() must not wait for it
            endpointLock.lock();
            try {
                if (destroyed) {
                    fresh.destroy();
                    throw LocalWorkerPool.closedException(poolName);
                }
                watch(fresh);
                endpoint = fresh;
                return fresh;
            } finally {
                endpointLock.unlock();
            }
        }

        @Override
        void loopEnded() {
            endpoint().askToExit();
        }

        @Override
        boolean awaitTermination(long deadlineNanos) throws InterruptedException {
            if (!super.awaitTermination(deadlineNanos)) {
                return false;
            }
            WorkerEndpoint last = endpoint();
            last.askToExit();
            return last.awaitExit(deadlineNanos);
        }

        @Override
        void destroy() {
            WorkerEndpoint last;
            endpointLock.lock();
            try {
                destroyed = true;
                last = endpoint;
            } finally {
                endpointLock.unlock();
            }
            last.destroy();
        }
    }
}
