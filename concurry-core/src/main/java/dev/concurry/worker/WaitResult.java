package dev.concurry.worker;

import java.util.Set;

/**
 * What {@link Futures#wait(java.util.Collection, WaitMode, java.time.Duration)} saw when it returned:
 * the futures done and those not done, each in the order given.
 *
 * <pre>{@code
 * WaitResult<CompletableFuture<Page>> r = Futures.wait(futures, WaitMode.ALL_COMPLETED, Duration.ofSeconds(30));
 * r.notDone().forEach(f -> f.cancel(true));
 * }</pre>
 *
 * @param done    futures that were done
 * @param notDone futures that were not done (the timeout passed first, or the mode returned early)
 * @param <F>     the future type
 */
public record WaitResult<F>(Set<F> done, Set<F> notDone) {

    public WaitResult {
        done = java.util.Collections.unmodifiableSet(new java.util.LinkedHashSet<>(done));
        notDone = java.util.Collections.unmodifiableSet(new java.util.LinkedHashSet<>(notDone));
    }

    /** Whether every future was done. */
    public boolean allDone() {
        return notDone.isEmpty();
    }
}
