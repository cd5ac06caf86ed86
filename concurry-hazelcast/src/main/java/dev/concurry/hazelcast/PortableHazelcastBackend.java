package dev.concurry.hazelcast;

import com.hazelcast.client.HazelcastClient;
import com.hazelcast.client.config.ClientConfig;
import com.hazelcast.core.HazelcastInstance;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;
import java.io.Serial;
import java.io.Serializable;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * What {@link HazelcastBackend#portable()} sends to another process (a process worker's child JVM): the
 * cluster's name, the addresses of its members when it was sent, and the backend's options. Where it
 * arrives it starts a Hazelcast client of its own on the first set it opens, and shuts it down when
 * closed: a process worker's child closes it when it ends.
 */
final class PortableHazelcastBackend implements LimitBackend, AutoCloseable, Serializable {
    @Serial
    private static final long serialVersionUID = 1L;

    private final String clusterName;
    private final List<String> members;
    private final String mapName;
    private final Duration lease;
    private final Duration commandTimeout;
    private transient HazelcastInstance client;   // guarded by this
    private transient HazelcastBackend backend;   // guarded by this
    private transient boolean closed;             // guarded by this

    PortableHazelcastBackend(String clusterName, List<String> members, String mapName, Duration lease,
            Duration commandTimeout) {
        this.clusterName = clusterName;
        this.members = List.copyOf(members);
        this.mapName = mapName;
        this.lease = lease;
        this.commandTimeout = commandTimeout;
    }

    @Override
    public String name() {
        return "hazelcast";
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

    private synchronized HazelcastBackend backend() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
        if (backend == null) {
            ClientConfig config = new ClientConfig();
            config.setClusterName(clusterName);
            config.setProperty("hazelcast.logging.type", "slf4j");
            config.getNetworkConfig().setAddresses(members);
            config.getConnectionStrategyConfig().getConnectionRetryConfig()
                    .setClusterConnectTimeoutMillis(Math.max(10_000L, Math.min(commandTimeout.toMillis(), 60_000L)));
            client = HazelcastClient.newHazelcastClient(config);
            try {
                backend = HazelcastBackend.builder(client).mapName(mapName).leaseDuration(lease)
                        .commandTimeout(commandTimeout).build();
            } catch (RuntimeException | Error e) {
                client.shutdown();
                client = null;
                throw e;
            }
        }
        return backend;
    }

    /** Closes the backend built here and shuts its client down; idempotent. */
    @Override
    public synchronized void close() {
        closed = true;
        if (backend != null) {
            backend.close();
            client.shutdown();
            backend = null;
            client = null;
        }
    }

    @Override
    public String toString() {
        return "PortableHazelcastBackend[cluster '" + clusterName + "' at " + members + ", map '" + mapName
                + "', lease=" + lease + "]";
    }
}
