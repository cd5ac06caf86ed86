package dev.concurry.worker;

import dev.concurry.retry.RetryPolicy;
import java.util.concurrent.CompletableFuture;

/**
 * The handle to one worker or a pool of identical workers (SPEC W1, W4), created by
 * {@link WorkerOptions#init(WorkerFactory)}. Close it (try-with-resources) to stop its threads.
 *
 * <pre>{@code
 * try (WorkerPool<AiWorker> pool = Worker.options(AiWorker.class)
 *         .mode(Mode.THREAD).maxWorkers(10).limits(limits)
 *         .init(() -> new AiWorker(client))) {
 *     CompletableFuture<Completion> one = pool.submit(w -> w.generate("Hello"));
 *     Completion direct = pool.call(w -> w.generate("Hi"));
 * }
 * }</pre>
 *
 * @param <W> the worker type
 */
public interface WorkerPool<W extends Worker> extends AutoCloseable {

    /**
     * Sends {@code call} to a worker chosen by the pool's {@link LoadBalancing} and returns its
     * future, retrying it under the pool's {@link PoolOptions#retry(RetryPolicy) retry policy} (none
     * by default). The future fails with the call's own exception as its cause (SPEC W6).
     * {@code future.cancel(true)} removes a queued call (it never runs) or interrupts a running one.
     * When the chosen worker's queue is full, blocks until there is room or, with
     * {@code blockWhenFull(false)}, throws (SPEC W5).
     *
     * @throws java.util.concurrent.RejectedExecutionException if the queue is full and the pool fails
     *                                                         fast, or the caller is interrupted while
     *                                                         waiting for room
     * @throws IllegalStateException                           after {@link #close()}
     * @throws IllegalArgumentException                        in {@link Mode#PROCESS}, if the call (with
     *                                                         what it captures) is not serializable
     */
    <R> CompletableFuture<R> submit(WorkerCall<W, R> call);

    /**
     * {@link #submit(WorkerCall)} under {@code retry} instead of the pool's policy (see
     * {@link PoolOptions#retry(RetryPolicy)} for how attempts, backoffs, cancellation and the queue
     * bound behave); {@link RetryPolicy#none()} runs the call once. The policy's validators see this
     * call's results only:
     *
     * <pre>{@code
     * RetryPolicy<Completion> untilJson = RetryPolicy.<Completion>builder()
     *         .maxAttempts(4).backoff(Backoff.FIXED, Duration.ofMillis(500))
     *         .retryUntil(Completion::isValidJson)
     *         .build();
     * CompletableFuture<Completion> json = pool.submit(untilJson, w -> w.generate(prompt));
     * }</pre>
     *
     * @throws java.util.concurrent.RejectedExecutionException as {@link #submit(WorkerCall)}, for the
     *                                                         first attempt only
     * @throws IllegalStateException                           after {@link #close()}
     */
    <R> CompletableFuture<R> submit(RetryPolicy<? super R> retry, WorkerCall<W, R> call);

    /**
     * Runs {@code call} and waits for its result. Unchecked exceptions and errors thrown by the call
     * are rethrown as they are; a checked exception arrives wrapped in {@link CallFailedException}.
     * If the caller is interrupted while waiting, the call is cancelled (interrupting it) and a
     * {@link java.util.concurrent.CancellationException} is thrown with the interrupt status kept.
     */
    <R> R call(WorkerCall<W, R> call);

    /**
     * {@link #call(WorkerCall)} under {@code retry} instead of the pool's policy; when attempts run
     * out it throws {@link dev.concurry.retry.RetriesExhaustedException}.
     *
     * <pre>{@code
     * Completion c = pool.call(RetryPolicy.builder().maxAttempts(3).build(), w -> w.generate("Hi"));
     * }</pre>
     */
    <R> R call(RetryPolicy<? super R> retry, WorkerCall<W, R> call);

    /** A snapshot of every worker's active, queued, total and failed calls. */
    PoolStats stats();

    /** The pool's name; its threads are named {@code concurry-<name>-worker-<i>}. */
    String name();

    /** The pool's mode. */
    Mode mode();

    /**
     * Stops accepting calls (later submits throw {@link IllegalStateException}), finishes the queued
     * calls (or cancels them, by option), waits up to the close timeout, then interrupts what still
     * runs and releases every thread and limit set the pool created (SPEC W7). Idempotent.
     */
    @Override
    void close();
}
