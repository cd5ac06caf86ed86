package dev.concurry.worker;

import java.io.Serializable;

/**
 * One call on a worker: usually a lambda such as {@code w -> w.generate(prompt)}. It may throw a
 * checked exception, which reaches the caller as the cause of the failed future (SPEC W6).
 * Serializable so that it can later be sent to a worker in a child JVM.
 *
 * <pre>{@code
 * CompletableFuture<Completion> f = pool.submit(w -> w.generate("Hello"));
 * }</pre>
 *
 * @param <W> the worker type
 * @param <R> the result type
 */
@FunctionalInterface
public interface WorkerCall<W, R> extends Serializable {

    /** Runs the call on {@code worker}. */
    R call(W worker) throws Exception;
}
