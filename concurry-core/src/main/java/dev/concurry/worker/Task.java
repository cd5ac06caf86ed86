package dev.concurry.worker;

import java.io.Serializable;
import java.util.concurrent.Callable;

/**
 * A plain function for a {@link TaskExecutor}: a {@link Callable} that is serializable, so a lambda
 * can later be sent to a child JVM.
 *
 * <pre>{@code
 * CompletableFuture<Page> page = tasks.submit(() -> fetch(url));
 * }</pre>
 *
 * @param <R> the result type
 */
@FunctionalInterface
public interface Task<R> extends Callable<R>, Serializable {
}
