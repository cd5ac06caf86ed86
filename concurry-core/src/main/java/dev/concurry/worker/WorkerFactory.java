package dev.concurry.worker;

import java.io.Serializable;
import java.util.function.Supplier;

/**
 * Creates one worker instance; called once per worker of a pool (or once per call of an on-demand
 * pool). Serializable so that a lambda or constructor reference can later be sent to a child JVM.
 * Each call must return a new instance.
 *
 * <pre>{@code
 * WorkerPool<AiWorker> pool = Worker.options(AiWorker.class).init(() -> new AiWorker(client));
 * }</pre>
 *
 * @param <W> the worker type
 */
@FunctionalInterface
public interface WorkerFactory<W extends Worker> extends Supplier<W>, Serializable {
}
