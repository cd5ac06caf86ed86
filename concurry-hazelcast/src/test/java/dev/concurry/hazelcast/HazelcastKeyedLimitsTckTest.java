package dev.concurry.hazelcast;

import com.hazelcast.core.HazelcastInstance;
import dev.concurry.limit.LimitBackend;
import dev.concurry.tck.KeyedLimitsTck;
import dev.concurry.time.ManualClock;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

/**
 * The keyed TCK (SPEC L24) against a cluster of two embedded members, through the default
 * {@code LimitBackend.openFamily}: each key is an entry of its own in the limits map (owned by either
 * member), opened when the key is first used and closed when it is dropped.
 * Each test has its own map: families of several tests share names and keys.
 */
class HazelcastKeyedLimitsTckTest extends KeyedLimitsTck {
    private static LoopbackCluster cluster;
    private static HazelcastInstance member;
    private static final AtomicLong RUNS = new AtomicLong();
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
        return backends.computeIfAbsent(clock,
                c -> HazelcastBackend.builder(member).clock(c).mapName("keyed-tck-" + RUNS.incrementAndGet()).build());
    }

    @AfterEach
    synchronized void closeBackends() {
        List<HazelcastBackend> all = new ArrayList<>(backends.values());
        backends.clear();
        all.forEach(HazelcastBackend::close);
    }
}
