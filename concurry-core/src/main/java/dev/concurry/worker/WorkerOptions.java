package dev.concurry.worker;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Options for workers of one type, from {@link Worker#options(Class)}; {@link #init(WorkerFactory)}
 * starts them.
 *
 * <pre>{@code
 * try (WorkerPool<DbWorker> pool = Worker.options(DbWorker.class)
 *         .mode(Mode.VIRTUAL).maxWorkers(20).limits(ResourceLimit.of("db_conn", 5))
 *         .init(DbWorker::new)) {
 *     List<List<Row>> rows = Futures.gather(queries.stream().map(q -> pool.submit(w -> w.query(q))).toList());
 * }
 * }</pre>
 *
 * @param <W> the worker type
 */
public final class WorkerOptions<W extends Worker> extends PoolOptions<WorkerOptions<W>> {
    private static final AtomicLong POOLS = new AtomicLong();
    private final Class<W> type;

    WorkerOptions(Class<W> type) {
        this.type = Objects.requireNonNull(type, "type");
    }

    /**
     * Creates the workers with {@code factory} (on this thread, so a failing constructor throws here),
     * gives each its limiter and starts their threads. In an on-demand pool, the factory runs once per
     * call instead.
     *
     * @throws IllegalArgumentException      if the limits do not suit the mode (SPEC L20) or options
     *                                       contradict each other
     * @throws IllegalArgumentException      for {@link Mode#PROCESS} and {@link Mode#CLUSTER}, if the factory is
     *                                       not serializable
     * @throws WorkerDiedException           for {@link Mode#PROCESS}, if a child JVM exits before it is ready
     * @throws IllegalStateException         for {@link Mode#CLUSTER}, if no member can host the workers
     */
    public WorkerPool<W> init(WorkerFactory<W> factory) {
        Objects.requireNonNull(factory, "factory");
        PoolConfig config = config(type.getSimpleName() + "-" + POOLS.incrementAndGet());
        return LocalWorkerPool.start(config, type, factory);
    }
}
