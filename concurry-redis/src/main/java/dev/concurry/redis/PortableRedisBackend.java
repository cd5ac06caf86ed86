package dev.concurry.redis;

import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.spi.ConnectingBackend;
import java.io.Serial;
import java.time.Duration;

/**
 * What {@link RedisBackend#portable()} sends to another process: the backend's address and options.
 * Where it arrives it builds a {@link RedisBackend} of its own (its own client and connections) on the
 * first set it opens, and closes it when closed.
 */
final class PortableRedisBackend extends ConnectingBackend {
    @Serial
    private static final long serialVersionUID = 1L;

    private final RedisAddress address;
    private final String keyPrefix;
    private final Duration lease;
    private final boolean failOpen;
    private final Duration commandTimeout;

    PortableRedisBackend(RedisAddress address, String keyPrefix, Duration lease, boolean failOpen,
            Duration commandTimeout) {
        super("redis");
        this.address = address;
        this.keyPrefix = keyPrefix;
        this.lease = lease;
        this.failOpen = failOpen;
        this.commandTimeout = commandTimeout;
    }

    @Override
    protected LimitBackend connect() {
        return RedisBackend.builder(address).keyPrefix(keyPrefix).leaseDuration(lease).failOpen(failOpen)
                .commandTimeout(commandTimeout).build();
    }

    @Override
    public String toString() {
        return "PortableRedisBackend[" + address + ", prefix=" + keyPrefix + ", lease=" + lease
                + (failOpen ? ", fail-open" : "") + "]";
    }
}
