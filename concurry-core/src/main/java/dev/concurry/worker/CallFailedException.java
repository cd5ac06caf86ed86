package dev.concurry.worker;

/**
 * Thrown by the blocking helpers ({@link WorkerPool#call}, {@link Futures#gather}) when a call failed
 * with a checked exception; the original exception is the {@linkplain #getCause() cause}. Unchecked
 * exceptions and errors are rethrown as they are, never wrapped.
 *
 * <pre>{@code
 * try {
 *     pool.call(w -> w.readFile(path));
 * } catch (CallFailedException e) {
 *     IOException original = (IOException) e.getCause();
 * }
 * }</pre>
 */
public class CallFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public CallFailedException(Throwable cause) {
        super("call failed with " + cause, cause);
    }
}
