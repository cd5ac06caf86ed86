package dev.concurry.limit;

/**
 * Thrown when a thread waiting to acquire is interrupted; nothing was taken and the thread's
 * interrupt status is set again, so code further up still sees the interrupt.
 */
public class AcquireInterruptedException extends LimitException {
    private static final long serialVersionUID = 1L;

    public AcquireInterruptedException(String message, InterruptedException cause) {
        super(message, cause);
    }
}
