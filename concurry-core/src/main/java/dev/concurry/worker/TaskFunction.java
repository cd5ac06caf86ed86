package dev.concurry.worker;

import java.io.Serializable;

/**
 * The function {@link TaskExecutor#map} applies to each item; may throw checked exceptions.
 *
 * <pre>{@code
 * List<CompletableFuture<Page>> pages = tasks.map(urls, this::fetch);
 * }</pre>
 *
 * @param <T> the item type
 * @param <R> the result type
 */
@FunctionalInterface
public interface TaskFunction<T, R> extends Serializable {

    R apply(T item) throws Exception;
}
