package dev.concurry.progress;

/**
 * The progress of one piece of work, opened by {@link Progress#start(long)}. Close it when the work
 * ends: it then shows success, or failure if {@link #fail()} was called. Safe to use from many threads.
 *
 * <pre>{@code
 * try (ProgressTracker bar = Progress.bar("importing").start(files.size())) {
 *     for (Path f : files) { importFile(f); bar.step(); }
 * }
 * }</pre>
 */
public interface ProgressTracker extends AutoCloseable {

    /** A tracker that reports nothing. */
    ProgressTracker NONE = new ProgressTracker() {
        @Override
        public void step(long steps) {
        }

        @Override
        public void fail() {
        }

        @Override
        public void close() {
        }
    };

    /** One more step done. */
    default void step() {
        step(1);
    }

    /** {@code steps} more steps done. */
    void step(long steps);

    /** Marks the work as failed; the final report says so. */
    void fail();

    /** Ends the work: the final report shows success, or failure after {@link #fail()}. Idempotent. */
    @Override
    void close();
}
