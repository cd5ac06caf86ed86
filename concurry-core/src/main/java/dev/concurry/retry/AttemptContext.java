package dev.concurry.retry;

import java.time.Duration;

/**
 * What a retry predicate or validator knows about the attempt that just ended.
 *
 * @param attempt the attempt's number, 1 for the first call
 * @param elapsed time since the first attempt started
 */
public record AttemptContext(int attempt, Duration elapsed) {
}
