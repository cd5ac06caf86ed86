package dev.concurry.worker;

import dev.concurry.progress.Progress;
import dev.concurry.retry.RetryPolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs plain functions with the worker machinery (SPEC W9): the same modes, pool size, load balancing,
 * queue bound, limits and closing as a {@link WorkerPool}. The counterpart of Concurry's
 * {@code TaskWorker} / {@code Executor}.
 *
 * <pre>{@code
 * try (TaskExecutor tasks = TaskExecutor.options().mode(Mode.VIRTUAL).maxWorkers(100).limits(limits).init()) {
 *     List<Page> pages = Futures.gather(tasks.map(urls, this::fetch));
 *     Page one = tasks.submit(limits -> {                 // a task that needs the limits
 *         try (Acquisition acq = limits.acquire(Request.of("requests", 1))) { return fetch(url); }
 *     }).join();
 * }
 * }</pre>
 *
 * <p>Each {@code submit} and each item of {@code map} is load-balanced on its own (Concurry sends a
 * whole map to one worker).
 */
public final class TaskExecutor implements AutoCloseable {
    private final WorkerPool<TaskWorker> pool;

    private TaskExecutor(WorkerPool<TaskWorker> pool) {
        this.pool = pool;
    }

    /** Starts configuring an executor; finish with {@link Options#init()}. */
    public static Options options() {
        return new Options();
    }

    /** Runs {@code task}; the future fails with the task's own exception as its cause. */
    public <R> CompletableFuture<R> submit(Task<R> task) {
        Objects.requireNonNull(task, "task");
        return pool.submit(worker -> task.call());
    }

    /** Runs {@code task} with the limiter of the worker that runs it (see {@link LimitedTask}). */
    public <R> CompletableFuture<R> submit(LimitedTask<R> task) {
        Objects.requireNonNull(task, "task");
        return pool.submit(worker -> worker.run(task));
    }

    /**
     * Runs {@code task} under {@code retry} instead of the executor's policy: each attempt is a
     * separate call, and no thread waits during a backoff (see {@link PoolOptions#retry(RetryPolicy)}).
     *
     * <pre>{@code
     * RetryPolicy<Page> retry = RetryPolicy.<Page>builder().maxAttempts(5).retryOn(IOException.class)
     *         .backoff(Backoff.EXPONENTIAL, Duration.ofMillis(200)).build();
     * CompletableFuture<Page> page = tasks.submit(retry, () -> fetch(url));
     * }</pre>
     */
    public <R> CompletableFuture<R> submit(RetryPolicy<? super R> retry, Task<R> task) {
        Objects.requireNonNull(task, "task");
        return pool.submit(retry, worker -> task.call());
    }

    /** {@link #submit(LimitedTask)} under {@code retry}: every attempt acquires its own limits (SPEC R2). */
    public <R> CompletableFuture<R> submit(RetryPolicy<? super R> retry, LimitedTask<R> task) {
        Objects.requireNonNull(task, "task");
        return pool.submit(retry, worker -> worker.run(task));
    }

    /**
     * Applies {@code function} to every item, each as its own call; the futures are in the order of
     * the items. With a bounded queue this blocks (or fails fast) like {@code submit}.
     */
    public <T, R> List<CompletableFuture<R>> map(Iterable<? extends T> items,
            TaskFunction<? super T, ? extends R> function) {
        Objects.requireNonNull(function, "function");
        List<CompletableFuture<R>> futures = new ArrayList<>();
        for (T item : items) {
            futures.add(pool.submit(worker -> function.apply(item)));
        }
        return futures;
    }

    /**
     * {@link #map(Iterable, TaskFunction)} with progress (SPEC P1): the tracker opened on
     * {@code progress} steps once per completed future (on the thread that completes it, never
     * blocking a worker), is marked failed if any item fails, and is closed when the last one is done.
     *
     * <pre>{@code
     * List<Page> pages = Futures.gather(tasks.map(urls, this::fetch, Progress.bar("fetching")));
     * }</pre>
     */
    public <T, R> List<CompletableFuture<R>> map(Iterable<? extends T> items,
            TaskFunction<? super T, ? extends R> function,
            Progress progress) {
        Objects.requireNonNull(function, "function");
        Objects.requireNonNull(progress, "progress");
        // Open the tracker first and track each future as it is submitted: with a bounded queue the
        // submitting itself takes most of the run, and the progress must show during it.
        long total = items instanceof java.util.Collection<?> c ? c.size() : -1;
        ProgressCounter counter = new ProgressCounter(progress.start(total));
        List<CompletableFuture<R>> futures = new ArrayList<>();
        try {
            for (T item : items) {
                CompletableFuture<R> future = pool.submit(worker -> function.apply(item));
                futures.add(future);
                counter.add(future);
            }
        } catch (RuntimeException | Error e) {
            counter.failAndSeal();
            throw e;
        }
        counter.seal();
        return futures;
    }

    /** A snapshot of the executor's workers. */
    public PoolStats stats() {
        return pool.stats();
    }

    /** Closes like {@link WorkerPool#close()}. */
    @Override
    public void close() {
        pool.close();
    }

    @Override
    public String toString() {
        return "TaskExecutor" + pool.toString().substring("WorkerPool".length());
    }

    /**
     * Options of a {@link TaskExecutor}; see {@link PoolOptions} for each option.
     *
     * <pre>{@code
     * TaskExecutor tasks = TaskExecutor.options().mode(Mode.THREAD).maxWorkers(8).init();
     * }</pre>
     */
    public static final class Options extends PoolOptions<Options> {
        private static final AtomicLong EXECUTORS = new AtomicLong();

        Options() {
        }

        /**
         * Starts the executor.
         *
         * @throws IllegalArgumentException      if the limits do not suit the mode (SPEC L20)
         */
        public TaskExecutor init() {
            PoolConfig config = config("tasks-" + EXECUTORS.incrementAndGet());
            return new TaskExecutor(LocalWorkerPool.start(config, TaskWorker.class, TaskWorker::new));
        }
    }
}
