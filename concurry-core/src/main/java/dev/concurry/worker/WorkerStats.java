package dev.concurry.worker;

/**
 * A snapshot of one worker of a pool (SPEC W4).
 *
 * @param index  the worker's index in the pool (0-based)
 * @param active calls running now
 * @param queued calls accepted but not started yet
 * @param total  calls given to this worker so far
 * @param failed calls that ended with an exception (cancelled calls that were interrupted included)
 */
public record WorkerStats(int index, int active, int queued, long total, long failed) {
}
