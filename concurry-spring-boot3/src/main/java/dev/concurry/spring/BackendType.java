package dev.concurry.spring;

import java.util.Locale;

/**
 * Where a limit set declared in properties keeps its state ({@code concurry.limit-sets.<name>.backend}).
 *
 * <pre>{@code
 * concurry.limit-sets.openai.backend: redis
 * }</pre>
 */
public enum BackendType {
    /** This JVM only: {@code Backends.inMemory()}. The default. */
    IN_MEMORY(false),
    /** Every JVM of this host using the set's name: {@code Backends.sharedMemory()}. */
    SHARED_MEMORY(false),
    /** Every JVM using the application's Redis: {@code RedisBackend} of the {@code concurry-redis} module. */
    REDIS(true),
    /** Every member of the application's Hazelcast cluster: the {@code concurry-hazelcast} module. */
    HAZELCAST(true);

    private final boolean distributed;

    BackendType(boolean distributed) {
        this.distributed = distributed;
    }

    /** Whether the state lives on a server that may become unreachable (health checks it). */
    public boolean distributed() {
        return distributed;
    }

    /** The name used in properties, such as {@code in-memory}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
