package dev.concurry.hazelcast;

import com.hazelcast.core.HazelcastInstance;
import dev.concurry.limit.LimitBackend;
import dev.concurry.tck.LimitSetTck;
import dev.concurry.time.ManualClock;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/**
 * The whole TCK (SPEC L18b, L19), pools and statistics included, against sets in a cluster of two members
 * embedded in this JVM, used through the first: a set owned by the other member is a real round trip, one
 * owned by the first a local call; either way the processor runs on the test's {@link ManualClock} (its
 * reading is sent with each call), and every change reaches the other member as the backup.
 */
class HazelcastLimitSetTckTest extends LimitSetTck {
    private static LoopbackCluster cluster;
    private static HazelcastInstance member;
    private final Map<ManualClock, HazelcastBackend> backends = new IdentityHashMap<>();

    @BeforeAll
    static void startCluster() {
        cluster = LoopbackCluster.builder().embeddedMembers(2).start();
        member = cluster.embeddedMember(0);
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    @Override
    protected synchronized LimitBackend backend(ManualClock clock) {
        return backends.computeIfAbsent(clock, c -> HazelcastBackend.builder(member).clock(c).build());
    }

    @AfterEach
    synchronized void closeBackends() {
        List<HazelcastBackend> all = new ArrayList<>(backends.values());
        backends.clear();
        all.forEach(HazelcastBackend::close);
    }
}
