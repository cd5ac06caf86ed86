package dev.concurry.worker;

/**
 * Thrown by {@link Futures#gather} with a timeout when the futures are not all done in time. Nothing
 * is cancelled: the futures keep running.
 *
 * <pre>{@code
 * try {
 *     Futures.gather(futures, Duration.ofSeconds(10));
 * } catch (WaitTimeoutException e) { ... }
 * }</pre>
 */
public class WaitTimeoutException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public WaitTimeoutException(String message) {
        super(message);
    }
}
