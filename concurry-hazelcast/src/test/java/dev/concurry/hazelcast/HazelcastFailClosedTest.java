package dev.concurry.hazelcast;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.hazelcast.core.HazelcastInstance;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Fail closed (SPEC L18b): with fewer members than the split-brain protection's majority, or no answer within
 * the command timeout, a call throws {@link ClusterUnavailableException} (nothing taken); the set works again
 * once the cluster can decide. Two members embedded in this JVM (majority: both); the tests shrink the
 * cluster in order.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HazelcastFailClosedTest {
    private static final Duration PATIENCE = Duration.ofSeconds(30);
    private static final Request ONE = Request.of("requests", 1);
    private static LoopbackCluster cluster;
    private static final List<HazelcastInstance> joined = new ArrayList<>();

    @BeforeAll
    static void startCluster() {
        cluster = LoopbackCluster.builder().embeddedMembers(2).start();
    }

    @AfterAll
    static void stopCluster() {
        joined.forEach(member -> member.getLifecycleService().terminate());
        if (cluster != null) {
            cluster.close();
        }
    }

    @Test
    @Order(1)
    void L18b_below_the_majority_calls_fail_closed_and_work_again_once_a_member_rejoins() throws Exception {
        HazelcastInstance survivor = cluster.embeddedMember(0);
        try (HazelcastBackend backend = HazelcastBackend.of(survivor);
                LimitSet set = LimitSet.builder().name("majority")
                        .add(RateLimit.of("requests", 1000, Duration.ofMinutes(1)))
                        .backend(backend).build()) {
            assertThat(set.tryAcquire(ONE)).isPresent();

            cluster.embeddedMember(1).getLifecycleService().terminate();
            awaitMembers(survivor, 1);

            assertThatThrownBy(() -> set.tryAcquire(ONE)).isInstanceOf(ClusterUnavailableException.class)
                    .hasMessageContaining("split-brain protection").hasMessageContaining("nothing was taken");
            assertThatThrownBy(() -> set.acquire(ONE)).isInstanceOf(ClusterUnavailableException.class);

            joined.add(ExtraMembers.join(cluster));
            awaitMembers(survivor, 2);

            assertThat(grantedWithin(set, PATIENCE)).as("granted again once the cluster can decide").isTrue();
            assertThat(set.stats().key("requests").inUse()).as("the refused calls took nothing").isEqualTo(2);
        }
    }

    @Test
    @Order(2)
    void L18b_a_cluster_that_does_not_answer_fails_calls_after_the_command_timeout() {
        HazelcastInstance client = cluster.newClient();
        try (HazelcastBackend backend = HazelcastBackend.builder(client).commandTimeout(Duration.ofSeconds(1)).build();
                LimitSet set = LimitSet.builder().name("silent")
                        .add(RateLimit.of("requests", 1000, Duration.ofMinutes(1)))
                        .backend(backend).build()) {
            assertThat(set.tryAcquire(ONE)).isPresent();

            joined.forEach(member -> member.getLifecycleService().terminate());
            cluster.embeddedMembers().forEach(member -> member.getLifecycleService().terminate());

            long start = System.nanoTime();
            assertThatThrownBy(() -> set.tryAcquire(ONE)).isInstanceOf(ClusterUnavailableException.class)
                    .hasMessageContaining("did not decide limit set 'silent' within PT1S");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(PATIENCE);
        }
    }

    private static boolean grantedWithin(LimitSet set, Duration patience) throws InterruptedException {
        long deadline = System.nanoTime() + patience.toNanos();
        while (System.nanoTime() < deadline) {
            try {
                Optional<?> granted = set.tryAcquire(ONE);
                if (granted.isPresent()) {
                    return true;
                }
            } catch (ClusterUnavailableException stillSplit) {
                Thread.sleep(50);       // the member list reached split-brain protection a moment later
            }
        }
        return false;
    }

    private static void awaitMembers(HazelcastInstance member, int count) throws InterruptedException {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (member.getCluster().getMembers().size() != count) {
            assertThat(System.nanoTime()).as("the cluster has " + count + " members in time").isLessThan(deadline);
            Thread.sleep(20);
        }
    }
}
