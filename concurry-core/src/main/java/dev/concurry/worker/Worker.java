package dev.concurry.worker;

import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Limiter;

/**
 * The base class of a worker: a plain Java class whose methods run in a chosen {@link Mode}, called
 * through a {@link WorkerPool} handle (SPEC W1). Extend it, then start workers with
 * {@link #options(Class)}:
 *
 * <pre>{@code
 * public class AiWorker extends Worker {
 *     private final LlmClient client;
 *     public AiWorker(LlmClient client) { this.client = client; }
 *
 *     public Completion generate(String prompt) {
 *         try (Acquisition acq = limits().acquire(Request.of("requests", 1).and("tokens", 100))) {
 *             Completion c = client.complete(prompt);
 *             acq.update("tokens", c.totalTokens());
 *             return c;
 *         }
 *     }
 * }
 *
 * try (WorkerPool<AiWorker> pool = Worker.options(AiWorker.class)
 *         .mode(Mode.THREAD).maxWorkers(10).limits(limits)
 *         .init(() -> new AiWorker(client))) {
 *     Completion c = pool.call(w -> w.generate("Hello"));
 * }
 * }</pre>
 */
public abstract class Worker {
    /** Set by the pool once, right after construction and before any call (safely published). */
    private Limiter limiter;

    protected Worker() {
    }

    /**
     * Starts configuring workers of {@code type}; finish with
     * {@link WorkerOptions#init(WorkerFactory)}.
     */
    public static <W extends Worker> WorkerOptions<W> options(Class<W> type) {
        return new WorkerOptions<>(type);
    }

    /**
     * The limiter of this worker (SPEC W3): the set or pool configured with
     * {@link PoolOptions#limits}, or the {@linkplain LimitSet#empty() empty set} when none was
     * configured (or when the instance was created outside a pool). Never null.
     */
    protected final Limiter limits() {
        Limiter current = limiter;
        return current != null ? current : LimitSet.empty();
    }

    /** Called by the pool once per instance. */
    final void bind(Limiter limits) {
        if (limiter != null) {
            throw new IllegalStateException("worker instance " + this + " already belongs to a pool;"
                    + " the factory passed to init() must return a new instance on each call");
        }
        limiter = limits;
    }
}
