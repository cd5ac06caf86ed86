package dev.concurry.worker;

/**
 * A snapshot of one worker of a pool (SPEC W4). The counts of calls are cumulative since the pool
 * started, so a metrics system can turn them into rates (the {@code concurry-micrometer} module does).
 *
 * @param index     the worker's index in the pool (0-based)
 * @param active    calls running now
 * @param queued    calls accepted but not started yet
 * @param total     calls given to this worker so far
 * @param failed    calls that ended with an exception (cancelled calls that were interrupted included)
 * @param completed calls that ran and ended, with a result or an exception ({@code failed} included;
 *                  calls cancelled before they started are not)
 * @param callNanos total time the {@code completed} calls ran, in nanoseconds ({@link System#nanoTime()})
 */
public record WorkerStats(int index, int active, int queued, long total, long failed, long completed,
        long callNanos) {

    /** A snapshot without completed calls and call time (reported as 0). */
    public WorkerStats(int index, int active, int queued, long total, long failed) {
        this(index, active, queued, total, failed, 0, 0);
    }
}
