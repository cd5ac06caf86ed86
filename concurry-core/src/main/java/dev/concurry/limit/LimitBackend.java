package dev.concurry.limit;

import dev.concurry.limit.spi.FamilyDefinition;
import dev.concurry.limit.spi.FamilyStore;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;

/**
 * Where a {@link LimitSet} keeps its state: in this JVM ({@link Backends#inMemory()}), in a file shared
 * by the JVMs of one host ({@link Backends#sharedMemory()}), or on a server or cluster (the
 * {@code concurry-redis} and {@code concurry-hazelcast} modules). Pass one to
 * {@link LimitSet.Builder#backend(LimitBackend)}.
 *
 * <pre>{@code
 * LimitSet limits = LimitSet.builder()
 *         .add(ResourceLimit.of("db_conn", 5))
 *         .backend(Backends.sharedMemory())
 *         .build();
 * }</pre>
 *
 * <p>Writing a backend: {@link #open} returns a {@link LimitStore} (see {@code dev.concurry.limit.spi});
 * the core's engine does everything else, the same for every backend. Backend modules run the behaviour
 * test kit ({@code concurry-tck}).
 */
public interface LimitBackend {

    /** A short name for messages and metrics, such as {@code "in-memory"}. */
    String name();

    /**
     * Whether sets of this backend can be shared by several processes (needed by process workers). Such
     * a backend should also be {@link java.io.Serializable}: a process pool then sends each child JVM
     * the set's {@link LimitSetDefinition} and the backend, and the child re-opens the same shared state.
     */
    boolean crossProcess();

    /**
     * A {@link java.io.Serializable} backend that re-opens this backend's sets in another process — a
     * process worker's child JVM, a cluster member — so that they share the same state (SPEC L20); empty
     * when that is impossible: the state lives in this JVM (in memory), or the backend was built around an
     * object that cannot travel (a client connection). The one way every backend says how it is re-opened
     * elsewhere: process and cluster pools send it, with the set's definition, to each worker.
     */
    default java.util.Optional<LimitBackend> portable() {
        return java.util.Optional.empty();
    }

    /**
     * Opens the store holding the state of the set {@code definition} describes (creating it, or
     * joining the one other processes share under its name). Called by {@link LimitSet.Builder#build()}.
     *
     * @throws IllegalStateException if the shared state exists with other limits, or cannot be opened
     */
    LimitStore open(LimitSetDefinition definition);

    /**
     * Opens the stores of a keyed family ({@link KeyedLimits}, SPEC L24); called by
     * {@link KeyedLimits.Builder#build()}. The default opens one set per key through {@link #open},
     * named {@code <family>/<key>} ({@link FamilyStore#perKey}): what the in-memory backend needs, but
     * for a distributed backend one server-side object per key, opened eagerly. Such a backend should
     * override it to keep one expiring entry per key in a shared structure (see {@link FamilyStore}), or
     * refuse families with an {@link UnsupportedOperationException} that says why.
     *
     * <pre>{@code
     * KeyedLimits<String> perCustomer = KeyedLimits.<String>builder()
     *         .add(RateLimit.of("requests", 100, Duration.ofMinutes(1)))
     *         .backend(backend)                          // calls backend.openFamily(...)
     *         .build();
     * }</pre>
     *
     * @throws UnsupportedOperationException if this backend cannot hold keyed families
     */
    default FamilyStore openFamily(FamilyDefinition family) {
        return FamilyStore.perKey(this, family);
    }
}
