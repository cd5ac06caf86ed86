package dev.concurry.limit.spi;

import dev.concurry.limit.LimitBackend;

/**
 * The stores of a keyed family's keys (SPEC L24), opened by {@link LimitBackend#openFamily}. The family
 * runs one engine per key in use, the same engine as any set's, so each key's set behaves exactly as a
 * {@code LimitSet} of its limits; what a backend decides is only where each key's state lives and what
 * opening it costs.
 *
 * <p>A family may hold millions of keys, most used once, so opening a key must cost little: no round
 * trip, no subscription or file per key. The family drops a key's store when nothing of the key is in
 * use in this JVM (no waiter, no open acquisition), and, for state that lives only in the store, only
 * once {@link LocalStore#idleIn()} says its state is back to initial, so that dropping it changes
 * nothing; a key used again later gets a store from {@link #open} again.
 *
 * <p>The default ({@link #perKey}) opens one set per key through {@link LimitBackend#open}, named
 * {@code <family>/<key>}: right for the in-memory backend's semantics, but one server-side object per
 * key for a distributed one. A distributed backend should instead:
 * <ul>
 *   <li>keep one entry per key in a shared structure (a Redis hash per key with a per-key hash tag so
 *       keys spread over a cluster's slots; an entry of one Hazelcast map per family), created by the
 *       first decision that touches it from the tier's initial state ({@link SetAlgorithms#init}): no
 *       initialisation call, no check of the limits per key (check them once per family);</li>
 *   <li>count every key's time from one family epoch, so that fixed windows of all keys share their
 *       boundaries and a key created again has exactly the windows it would have had;</li>
 *   <li>let the entry expire once idle: after each change set its time to live to
 *       {@link SetAlgorithms#idleIn} (the Redis script needs a port of it, in its differential test),
 *       none while a permit is held; a permit's holder lease keeps its key alive;</li>
 *   <li>tell settlements of an entry that expired and was created again from those of the live one
 *       (a generation stored in the entry and returned with each grant): a grant of an expired entry
 *       was idle, so its refund does nothing and its overuse is charged now, as for any grant that left
 *       its window;</li>
 *   <li>wake waiters through one subscription for the whole family (a message naming the key), never
 *       one per key, and never scan the keys; report {@code stateOutlivesStore()} true.</li>
 * </ul>
 * The keyed test kit ({@code KeyedLimitsTck} in {@code concurry-tck}) checks the semantics.
 */
public interface FamilyStore extends AutoCloseable {

    /**
     * Opens the store of {@code key}'s set. Called the first time a key is used in this JVM, and again
     * when it is used after the family dropped it.
     *
     * @param key        the key as the application gave it; a backend shared by several JVMs identifies it
     *                   by {@code String.valueOf(key)}
     * @param definition the key's set: the family's name, the limits of the key's tier (one of
     *                   {@link FamilyDefinition#tiers()}, the same instance) and the key's config
     */
    LimitStore open(Object key, LimitSetDefinition definition);

    /**
     * Whether a key's state lives on after its store is closed (in a file, on a server): the family then
     * drops the store of a key as soon as nothing of the key is in use in this JVM. When false (state in
     * memory, in the store itself) it drops it only once its state is back to initial, and meanwhile
     * lets an unused key keep only its {@link LocalStore} (no engine): its next use runs it under a new
     * engine, so {@link LimitStore#listen} may be called again on the same store (the latest call wins).
     */
    boolean stateOutlivesStore();

    /** Frees what the family holds (connections, subscriptions); called once, after every key's store closed. */
    @Override
    void close();

    /**
     * The default family of {@code backend}: one set per key opened through {@link LimitBackend#open},
     * named {@code <family name>/<key>}; its state outlives its store when the backend is
     * {@linkplain LimitBackend#crossProcess() shared by processes}. Each set counts time from its own
     * opening, so a fixed window of a key dropped and opened again starts anew then, not at the family's
     * boundaries (see above); the in-memory backend overrides this.
     */
    static FamilyStore perKey(LimitBackend backend, FamilyDefinition family) {
        return new FamilyStore() {
            @Override
            public LimitStore open(Object key, LimitSetDefinition definition) {
                return backend.open(new LimitSetDefinition(family.name() + "/" + key, definition.limits(),
                        definition.config()));
            }

            @Override
            public boolean stateOutlivesStore() {
                return backend.crossProcess();
            }

            @Override
            public void close() {
            }

            @Override
            public String toString() {
                return "one " + backend.name() + " set per key of family '" + family.name() + "'";
            }
        };
    }
}
