package dev.concurry.worker;

/**
 * When {@link Futures#wait(java.util.Collection, WaitMode, java.time.Duration)} returns (SPEC W10).
 *
 * <pre>{@code
 * WaitResult<CompletableFuture<Page>> r = Futures.wait(futures, WaitMode.FIRST_EXCEPTION, Duration.ofMinutes(1));
 * }</pre>
 */
public enum WaitMode {
    /** When every future is done. */
    ALL_COMPLETED,
    /** When any future is done (normally, exceptionally or cancelled). */
    FIRST_COMPLETED,
    /** When any future fails (or is cancelled), or else when every future is done. */
    FIRST_EXCEPTION
}
