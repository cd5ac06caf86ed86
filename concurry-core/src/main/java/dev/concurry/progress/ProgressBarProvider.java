package dev.concurry.progress;

import java.time.Duration;

/**
 * Renders live progress bars on a terminal; found with {@link java.util.ServiceLoader}. The
 * {@code concurry-progressbar} module provides one; {@link Progress#bar(String)} uses it when present.
 */
public interface ProgressBarProvider {

    /** Opens a live bar for work of {@code total} steps ({@code -1} if unknown). */
    ProgressTracker open(String description, long total);

    /**
     * Opens a live bar for work that runs for {@code length} (see {@link Progress#startFor(Duration)}):
     * it fills with time, shows elapsed and remaining time, and counts the steps. By default, a bar of
     * unknown total.
     */
    default ProgressTracker openFor(String description, Duration length) {
        return open(description, -1);
    }
}
