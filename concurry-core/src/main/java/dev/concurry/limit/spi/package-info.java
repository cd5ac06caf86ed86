/**
 * For backend authors: the seam between the one limits engine and the stores that hold a set's state.
 *
 * <p>A backend ({@code LimitBackend}) opens a {@link dev.concurry.limit.spi.LimitStore} per set from a
 * {@link dev.concurry.limit.spi.LimitSetDefinition}. The engine in {@code dev.concurry.limit} does
 * everything users see — the queue of waiters, blocking, timeouts, async futures, interrupts, wake-ups,
 * the {@code Acquisition} handle, statistics — and asks the store only to decide batches of
 * {@link dev.concurry.limit.spi.ResolvedRequest}s atomically, settle grants and read snapshots:
 * <ul>
 *   <li>{@link dev.concurry.limit.spi.LocalStore}: decided inline (in memory, a mapped file);
 *       {@link dev.concurry.limit.spi.ArrayStore} does it for state kept as an array of doubles;</li>
 *   <li>{@link dev.concurry.limit.spi.RemoteStore}: decided by an asynchronous call, one batch per
 *       round trip (Redis, a Hazelcast cluster).</li>
 * </ul>
 * {@link dev.concurry.limit.spi.SetAlgorithms} is the five algorithms of SPEC L5 and the batch decision
 * as pure functions over that array: every Java-side store runs this same code (the Redis script is a
 * line-by-line port checked by a differential test), so every backend admits the same requests.
 * A keyed family's stores come from {@link dev.concurry.limit.spi.FamilyStore} (one per key, opened
 * cheaply, dropped once {@link dev.concurry.limit.spi.SetAlgorithms#idleIn} says the state is back to
 * initial). A backend that reaches its state through a connection is re-opened in other processes
 * through a {@link dev.concurry.limit.spi.ConnectingBackend} ({@code LimitBackend.portable()}).
 * Applications never need this package.
 */
package dev.concurry.limit.spi;
