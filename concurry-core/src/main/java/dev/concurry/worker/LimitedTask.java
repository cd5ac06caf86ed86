package dev.concurry.worker;

import dev.concurry.limit.Limiter;
import java.io.Serializable;

/**
 * A function for a {@link TaskExecutor} that needs the executor's limits: it receives the limiter of
 * the worker that runs it (never null; the empty set when no limits were configured).
 *
 * <pre>{@code
 * CompletableFuture<Page> page = tasks.submit(limits -> {
 *     try (Acquisition acq = limits.acquire(Request.of("requests", 1))) {
 *         return fetch(url);
 *     }
 * });
 * }</pre>
 *
 * @param <R> the result type
 */
@FunctionalInterface
public interface LimitedTask<R> extends Serializable {

    R call(Limiter limits) throws Exception;
}
