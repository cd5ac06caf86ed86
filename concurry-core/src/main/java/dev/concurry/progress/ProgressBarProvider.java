package dev.concurry.progress;

/**
 * Renders live progress bars on a terminal; found with {@link java.util.ServiceLoader}. The
 * {@code concurry-progressbar} module provides one; {@link Progress#bar(String)} uses it when present.
 */
public interface ProgressBarProvider {

    /** Opens a live bar for work of {@code total} steps ({@code -1} if unknown). */
    ProgressTracker open(String description, long total);
}
