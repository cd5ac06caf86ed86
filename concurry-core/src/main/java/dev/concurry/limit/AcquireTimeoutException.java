package dev.concurry.limit;

import java.util.Optional;

/**
 * Thrown by {@link Limiter#acquire(Request, java.time.Duration)} (and completes the future of
 * {@link Limiter#acquireAsync(Request, java.time.Duration)}) when the timeout passes first; nothing was
 * taken. {@link #refusal()} says which keys were short and when the request could be granted (SPEC L25).
 */
public class AcquireTimeoutException extends LimitException {
    private static final long serialVersionUID = 2L;
    private final transient Refusal refusal;

    public AcquireTimeoutException(String message) {
        this(message, null);
    }

    /** With the facts of the refusal at the deadline. */
    public AcquireTimeoutException(String message, Refusal refusal) {
        super(message);
        this.refusal = refusal;
    }

    /** Why the request was still not granted at the deadline, when known. */
    public Optional<Refusal> refusal() {
        return Optional.ofNullable(refusal);
    }
}
