package dev.concurry.hazelcast;

import com.hazelcast.client.HazelcastClient;
import com.hazelcast.client.config.ClientConfig;
import com.hazelcast.core.HazelcastInstance;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.spi.ConnectingBackend;
import java.io.Serial;
import java.time.Duration;
import java.util.List;

/**
 * What {@link HazelcastBackend#portable()} sends to another process (a process worker's child JVM): the
 * cluster's name, the addresses of its members when it was sent, and the backend's options. Where it
 * arrives it starts a Hazelcast client of its own on the first set it opens, and shuts it down when
 * closed.
 */
final class PortableHazelcastBackend extends ConnectingBackend {
    @Serial
    private static final long serialVersionUID = 1L;

    private final String clusterName;
    private final List<String> members;
    private final String mapName;
    private final Duration lease;
    private final Duration commandTimeout;

    PortableHazelcastBackend(String clusterName, List<String> members, String mapName, Duration lease,
            Duration commandTimeout) {
        super("hazelcast");
        this.clusterName = clusterName;
        this.members = List.copyOf(members);
        this.mapName = mapName;
        this.lease = lease;
        this.commandTimeout = commandTimeout;
    }

    @Override
    protected LimitBackend connect() {
        ClientConfig config = new ClientConfig();
        config.setClusterName(clusterName);
        config.setProperty("hazelcast.logging.type", "slf4j");
        config.getNetworkConfig().setAddresses(members);
        config.getConnectionStrategyConfig().getConnectionRetryConfig()
                .setClusterConnectTimeoutMillis(Math.max(10_000L, Math.min(commandTimeout.toMillis(), 60_000L)));
        HazelcastInstance client = HazelcastClient.newHazelcastClient(config);
        try {
            return HazelcastBackend.builder(client).mapName(mapName).leaseDuration(lease).commandTimeout(commandTimeout)
                    .shutdownInstanceOnClose().build();
        } catch (RuntimeException | Error e) {
            client.shutdown();
            throw e;
        }
    }

    @Override
    public String toString() {
        return "PortableHazelcastBackend[cluster '" + clusterName + "' at " + members + ", map '" + mapName
                + "', lease=" + lease + "]";
    }
}
