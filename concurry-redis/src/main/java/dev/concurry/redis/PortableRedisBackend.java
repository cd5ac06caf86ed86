package dev.concurry.redis;

import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;
import java.io.Serial;
import java.io.Serializable;
import java.time.Duration;
import java.util.Optional;

/**
 * What {@link RedisBackend#portable()} sends to another process: the backend's address and options.
 * Where it arrives it builds a {@link RedisBackend} of its own (its own client and connections) on the
 * first set it opens, and closes it when closed: a process worker's child closes it when it ends.
 */
final class PortableRedisBackend implements LimitBackend, AutoCloseable, Serializable {
    @Serial
    private static final long serialVersionUID = 1L;

    private final RedisAddress address;
    private final String keyPrefix;
    private final Duration lease;
    private final boolean failOpen;
    private final Duration commandTimeout;
    private transient RedisBackend backend;   // guarded by this
    private transient boolean closed;         // guarded by this

    PortableRedisBackend(RedisAddress address, String keyPrefix, Duration lease, boolean failOpen,
            Duration commandTimeout) {
        this.address = address;
        this.keyPrefix = keyPrefix;
        this.lease = lease;
        this.failOpen = failOpen;
        this.commandTimeout = commandTimeout;
    }

    @Override
    public String name() {
        return "redis";
    }

    @Override
    public boolean crossProcess() {
        return true;
    }

    @Override
    public Optional<LimitBackend> portable() {
        return Optional.of(this);
    }

    @Override
    public LimitStore open(LimitSetDefinition definition) {
        return backend().open(definition);
    }

    private synchronized RedisBackend backend() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
        if (backend == null) {
            backend = RedisBackend.builder(address).keyPrefix(keyPrefix).leaseDuration(lease).failOpen(failOpen)
                    .commandTimeout(commandTimeout).build();
        }
        return backend;
    }

    /** Closes the backend built here (its connections and client); idempotent. */
    @Override
    public synchronized void close() {
        closed = true;
        if (backend != null) {
            backend.close();
        }
    }

    @Override
    public String toString() {
        return "PortableRedisBackend[" + address + ", prefix=" + keyPrefix + ", lease=" + lease
                + (failOpen ? ", fail-open" : "") + "]";
    }
}
