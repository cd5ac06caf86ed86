package dev.concurry.hazelcast;

import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.List;

/** Members that join a {@link LoopbackCluster} after it started, for tests that kill or add members. */
final class ExtraMembers {
    private ExtraMembers() {
    }

    /** Starts a member in this JVM on a free port, joining {@code cluster}; the caller terminates it. */
    static HazelcastInstance join(LoopbackCluster cluster) {
        int port;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<Integer> ports = new ArrayList<>(cluster.ports());
        ports.add(port);
        return Hazelcast.newHazelcastInstance(LoopbackCluster.memberConfig(cluster.name(), port, ports));
    }
}
