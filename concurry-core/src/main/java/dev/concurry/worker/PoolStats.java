package dev.concurry.worker;

import java.util.List;

/**
 * A snapshot of a pool (SPEC W4): one entry per worker plus totals. An on-demand pool has one entry
 * per worker slot ({@code maxWorkers}); {@link #alive()} counts the instances alive now.
 *
 * <pre>{@code
 * PoolStats stats = pool.stats();
 * log.info("{} calls running, {} queued", stats.active(), stats.queued());
 * }</pre>
 *
 * @param name     the pool's name (also in its thread names)
 * @param mode     the pool's mode
 * @param onDemand whether a worker is created per call
 * @param alive    worker instances alive now
 * @param queued   calls accepted but not started yet, over the whole pool
 * @param workers  per-worker snapshots
 */
public record PoolStats(String name, Mode mode, boolean onDemand, int alive, int queued, List<WorkerStats> workers) {

    public PoolStats {
        workers = List.copyOf(workers);
    }

    /** Calls running now, over all workers. */
    public int active() {
        return workers.stream().mapToInt(WorkerStats::active).sum();
    }

    /** Calls given to the pool so far. */
    public long total() {
        return workers.stream().mapToLong(WorkerStats::total).sum();
    }

    /** Calls that ended with an exception. */
    public long failed() {
        return workers.stream().mapToLong(WorkerStats::failed).sum();
    }

    /** Calls that ran and ended, with a result or an exception. */
    public long completed() {
        return workers.stream().mapToLong(WorkerStats::completed).sum();
    }

    /** Total time the {@link #completed()} calls ran, in nanoseconds. */
    public long callNanos() {
        return workers.stream().mapToLong(WorkerStats::callNanos).sum();
    }
}
