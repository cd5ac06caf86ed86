package dev.concurry.limit;

/** Thrown by {@link Limiter#acquire(Request, java.time.Duration)} when the timeout passes first; nothing was taken. */
public class AcquireTimeoutException extends LimitException {
    private static final long serialVersionUID = 1L;

    public AcquireTimeoutException(String message) {
        super(message);
    }
}
