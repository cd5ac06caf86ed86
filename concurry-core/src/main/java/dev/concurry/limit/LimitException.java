package dev.concurry.limit;

/** Base of the unchecked exceptions an acquisition throws when it cannot be granted. */
public class LimitException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public LimitException(String message) {
        super(message);
    }

    public LimitException(String message, Throwable cause) {
        super(message, cause);
    }
}
