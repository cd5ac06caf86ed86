package dev.concurry.retry;

import java.time.Duration;
import java.util.List;

/**
 * Every attempt failed or returned a rejected result (SPEC R3). Carries each attempt's failure (also
 * added as suppressed exceptions, so stack traces show them), each result a validator rejected, the
 * number of attempts and the total time. The cause is the last failure, if the last attempt threw.
 */
public class RetriesExhaustedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int attempts;
    private final Duration elapsed;
    private final transient List<Throwable> failures;
    private final transient List<Object> rejectedResults;

    RetriesExhaustedException(String why, int attempts, Duration elapsed, List<Throwable> failures,
            List<Object> rejectedResults, Throwable lastFailure) {
        super(message(why, attempts, elapsed, failures, rejectedResults), lastFailure);
        this.attempts = attempts;
        this.elapsed = elapsed;
        this.failures = List.copyOf(failures);
        this.rejectedResults = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(rejectedResults));
        failures.stream().filter(f -> f != lastFailure).forEach(this::addSuppressed);
    }

    private static String message(String why, int attempts, Duration elapsed, List<Throwable> failures,
            List<Object> rejectedResults) {
        StringBuilder sb = new StringBuilder("gave up after ").append(attempts)
                .append(attempts == 1 ? " attempt" : " attempts")
                .append(" in ").append(elapsed).append(" (").append(why).append(")");
        if (!failures.isEmpty()) {
            sb.append("; failures: ").append(failures);
        }
        if (!rejectedResults.isEmpty()) {
            sb.append("; rejected results: ").append(rejectedResults);
        }
        return sb.toString();
    }

    /** How many attempts ran. */
    public int attempts() {
        return attempts;
    }

    /** Time from the start of the first attempt to the end of the last. */
    public Duration elapsed() {
        return elapsed;
    }

    /** The exception of every attempt that threw, in order. */
    public List<Throwable> failures() {
        return failures;
    }

    /** The result of every attempt that a {@code retryUntil} validator rejected, in order. */
    public List<Object> rejectedResults() {
        return rejectedResults;
    }
}
