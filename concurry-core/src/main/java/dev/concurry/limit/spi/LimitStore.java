package dev.concurry.limit.spi;

import dev.concurry.time.MonotonicClock;
import java.util.function.BooleanSupplier;

/**
 * Where one set's state lives, and what makes changing it atomic: the seam between the limits engine
 * and a backend (SPEC "central idea"). The engine in the core owns everything else — resolving
 * requests, the first-come first-served queue of waiters, blocking, timeouts, async futures, interrupts
 * and cancellation, wake-ups, the {@code Acquisition} handle, statistics, pools, close — and is the
 * same for every backend. A store only decides: given queued attempts in order, which are granted now
 * and, for the others, which limits they are short of and how long they must wait; it settles grants
 * and reads a snapshot.
 *
 * <p>There are two kinds, chosen by what the store can do:
 * <ul>
 *   <li>{@link LocalStore}: this JVM can read and change the state directly (in memory, a mapped file).
 *       The engine calls it inline, under the set's lock; it must not block for long.</li>
 *   <li>{@link RemoteStore}: the state lives elsewhere (a server, a cluster). One asynchronous call
 *       decides a whole batch of attempts; the engine keeps at most one such call in flight per set,
 *       and attempts arriving meanwhile join the next one.</li>
 * </ul>
 *
 * <p>Writing a backend: implement {@code LimitBackend.open(definition)} to return a store of either
 * kind; a store over an array of doubles extends {@link ArrayStore}, which runs {@link SetAlgorithms}.
 * Run the behaviour test kit ({@code concurry-tck}) against it.
 */
public interface LimitStore extends AutoCloseable {

    /** The clock that measures timeouts and schedules wake-ups for this set. */
    MonotonicClock clock();

    /** Where the state is, for messages: {@code "in-memory"}, {@code "shared-memory /tmp/x.limits"}. */
    String describe();

    /**
     * Called once by the engine: {@code redispatch} decides the queue again and returns whether
     * waiters remain. A store whose units can come back elsewhere (another process releases) calls it
     * when that happens, and may stop watching once it returns false.
     */
    default void listen(BooleanSupplier redispatch) {
    }

    /**
     * The engine's queue became non-empty ({@code true}) or empty ({@code false}); called under the
     * engine's lock, so the two never race. A store that must watch for units coming back elsewhere
     * watches only while waiters exist.
     */
    default void waiters(boolean present) {
    }

    /**
     * Waiter {@code id} ({@link Batch#id}) left the queue without a grant (timed out, interrupted,
     * cancelled): a store that keeps something for it elsewhere (a place in a cross-JVM queue) may drop
     * it now rather than let it expire. Called under the engine's lock; must not block.
     */
    default void left(long id) {
    }

    /** Frees what the store holds (files, subscriptions); called once, after the set's waiters failed. */
    @Override
    void close();
}
