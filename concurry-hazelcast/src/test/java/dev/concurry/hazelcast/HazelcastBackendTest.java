package dev.concurry.hazelcast;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.hazelcast.config.InMemoryFormat;
import com.hazelcast.config.MapConfig;
import com.hazelcast.core.HazelcastInstance;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.time.ManualClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The Hazelcast backend in a real cluster (SPEC L18b): three members embedded in this JVM and a client, one
 * cluster for the class. Backups, release notifications across instances, permits of members and clients
 * that die, and the identity of a set.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HazelcastBackendTest {
    private static final Duration PATIENCE = Duration.ofSeconds(20);
    private static final Duration HOUR = Duration.ofHours(1);
    private static final AtomicLong NAMES = new AtomicLong();
    private static LoopbackCluster cluster;
    private static HazelcastInstance client;

    @BeforeAll
    static void startCluster() {
        cluster = LoopbackCluster.builder().embeddedMembers(3).start();
        client = cluster.newClient();
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    private static String name(String what) {
        return what + "-" + NAMES.incrementAndGet();
    }

    private static LimitSet set(HazelcastBackend backend, String name, dev.concurry.limit.Limit... limits) {
        LimitSet.Builder builder = LimitSet.builder().name(name).backend(backend);
        for (dev.concurry.limit.Limit limit : limits) {
            builder.add(limit);
        }
        return builder.build();
    }

    @Test
    void L18b_every_member_reads_the_same_state_the_backup_holds_exactly_what_the_owner_computed() {
        String map = "backup-check";
        cluster.embeddedMember(0).getConfig().addMapConfig(new MapConfig(map).setBackupCount(1).setReadBackupData(true)
                .setInMemoryFormat(InMemoryFormat.OBJECT));
        String name = name("backup");
        // Cluster time: sliding-window entries hold the owner's nanoseconds, which a re-run elsewhere would not repeat.
        try (HazelcastBackend backend = HazelcastBackend.builder(client).mapName(map).build();
                LimitSet set = set(backend, name, RateLimit.of("requests", 1000, Duration.ofMinutes(1)),
                        ResourceLimit.of("db", 3))) {
            for (int i = 0; i < 25; i++) {
                try (Acquisition acquisition = set.acquire(Request.of("requests", 2).and("db", 1))) {
                    if (i % 2 == 0) {
                        acquisition.update("requests", 1);
                    }
                }
            }
        }
        List<StoredSet> copies = new ArrayList<>();
        for (HazelcastInstance member : cluster.embeddedMembers()) {
            copies.add((StoredSet) member.getMap(map).get(name));    // the backup member reads its own copy
        }
        assertThat(copies.get(0).version).as("changes applied").isGreaterThanOrEqualTo(50);
        assertThat(copies).allSatisfy(copy -> assertThat(StoredSets.sameState(copy, copies.get(0))).isTrue());
    }

    @Test
    void L18b_a_set_declared_with_other_limits_is_refused_naming_both() {
        String name = name("identity");
        try (HazelcastBackend backend = HazelcastBackend.of(client);
                LimitSet ignored = set(backend, name, RateLimit.of("requests", 5, Duration.ofSeconds(1)))) {
            assertThatThrownBy(() -> set(backend, name, RateLimit.of("requests", 6, Duration.ofSeconds(1))))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("'" + name + "'")
                    .hasMessageContaining("capacity=5.0").hasMessageContaining("capacity=6.0");
        }
    }

    @Test
    void L12_L18b_a_release_in_one_instance_wakes_a_waiter_in_another_at_once() throws Exception {
        String name = name("release");
        // An hour-long lease: only the release announcement can wake the waiter before the test times out.
        try (HazelcastBackend holderSide = HazelcastBackend.builder(client).leaseDuration(HOUR).build();
                HazelcastBackend waiterSide = HazelcastBackend.builder(cluster.embeddedMember(1)).leaseDuration(HOUR)
                        .build();
                LimitSet holder = set(holderSide, name, ResourceLimit.of("db", 1));
                LimitSet waiter = set(waiterSide, name, ResourceLimit.of("db", 1))) {
            Acquisition held = holder.acquire(Request.of("db", 1));
            CompletableFuture<Acquisition> waiting = waiter.acquireAsync(Request.of("db", 1));
            awaitWaiting(waiter);
            assertThat(waiting).isNotDone();

            held.close();

            try (Acquisition granted = waiting.get(PATIENCE.toSeconds(), TimeUnit.SECONDS)) {
                assertThat(granted.granted()).containsEntry("db", 1.0);
            }
        }
    }

    @Test
    void L13_L18b_a_refund_in_one_instance_wakes_a_waiter_in_another() throws Exception {
        String name = name("refund");
        try (HazelcastBackend taker = HazelcastBackend.of(client);
                HazelcastBackend waiterSide = HazelcastBackend.of(cluster.embeddedMember(2));
                LimitSet spender = set(taker, name, RateLimit.of("tokens", 100, HOUR));
                LimitSet waiter = set(waiterSide, name, RateLimit.of("tokens", 100, HOUR))) {
            Acquisition all = spender.acquire(Request.of("tokens", 100));
            CompletableFuture<Acquisition> waiting = waiter.acquireAsync(Request.of("tokens", 40));
            awaitWaiting(waiter);

            all.update("tokens", 50).close();   // 50 unused tokens come back

            assertThat(waiting.get(PATIENCE.toSeconds(), TimeUnit.SECONDS).granted()).containsEntry("tokens", 40.0);
            assertThat(waiter.tryAcquire(Request.of("tokens", 20))).as("only 10 left").isEmpty();
        }
    }

    @Test
    void L18b_the_permits_of_a_member_that_leaves_the_cluster_come_back_at_once() throws Exception {
        String name = name("departed");
        HazelcastInstance extra = ExtraMembers.join(cluster);
        try (HazelcastBackend survivor = HazelcastBackend.builder(cluster.embeddedMember(0)).leaseDuration(HOUR)
                .build();
                LimitSet waiter = set(survivor, name, ResourceLimit.of("db", 2))) {
            HazelcastBackend doomed = HazelcastBackend.builder(extra).leaseDuration(HOUR).build();
            LimitSet holder = set(doomed, name, ResourceLimit.of("db", 2));
            holder.acquire(Request.of("db", 2));               // held until its member dies: never released
            CompletableFuture<Acquisition> waiting = waiter.acquireAsync(Request.of("db", 2));
            awaitWaiting(waiter);

            extra.getLifecycleService().terminate();

            // Well before the hour-long lease: the departure gave the permits back.
            try (Acquisition granted = waiting.get(PATIENCE.toSeconds(), TimeUnit.SECONDS)) {
                assertThat(granted.granted()).containsEntry("db", 2.0);
                assertThat(waiter.stats().key("db").inUse()).isEqualTo(2);
            }
        } finally {
            extra.getLifecycleService().terminate();
        }
    }

    @Test
    void L18b_the_permits_of_a_client_that_vanishes_come_back_when_its_lease_expires() throws Exception {
        String name = name("vanished");
        ManualClock clock = new ManualClock();
        HazelcastInstance doomedClient = cluster.newClient();
        try (HazelcastBackend doomed = HazelcastBackend.builder(doomedClient).clock(clock)
                .leaseDuration(Duration.ofSeconds(30)).build();
                HazelcastBackend survivor = HazelcastBackend.builder(cluster.embeddedMember(0)).clock(clock)
                        .leaseDuration(Duration.ofSeconds(30)).build();
                LimitSet waiter = set(survivor, name, ResourceLimit.of("db", 1))) {
            LimitSet holder = set(doomed, name, ResourceLimit.of("db", 1));
            holder.acquire(Request.of("db", 1));
            CompletableFuture<Acquisition> waiting = waiter.acquireAsync(Request.of("db", 1));
            awaitWaiting(waiter);

            doomedClient.getLifecycleService().terminate();   // no renewals from now on
            clock.advance(Duration.ofSeconds(29));
            assertThat(waiting).as("the lease still runs").isNotDone();
            clock.advance(Duration.ofMillis(1_002));            // the waiter wakes at the lease's expiry, + 1 ms

            assertThat(waiting.get(PATIENCE.toSeconds(), TimeUnit.SECONDS).granted()).containsEntry("db", 1.0);
        }
    }

    @Test
    void L18b_an_instance_configured_without_configure_gets_the_limits_map_configured_at_run_time() {
        com.hazelcast.config.Config plain = new com.hazelcast.config.Config().setClusterName(name("unconfigured"));
        plain.setProperty("hazelcast.phone.home.enabled", "false");
        plain.setProperty("hazelcast.logging.type", "slf4j");
        plain.getJetConfig().setEnabled(false);
        plain.getNetworkConfig().getJoin().getMulticastConfig().setEnabled(false);
        plain.getNetworkConfig().getJoin().getAutoDetectionConfig().setEnabled(false);
        plain.getNetworkConfig().setPort(0).getInterfaces().setEnabled(true).addInterface("127.0.0.1");
        plain.setProperty("hazelcast.socket.bind.any", "false");
        HazelcastInstance alone = com.hazelcast.core.Hazelcast.newHazelcastInstance(plain);
        try (HazelcastBackend backend = HazelcastBackend.of(alone);
                LimitSet set = set(backend, name("plain"), RateLimit.of("requests", 2, HOUR))) {
            MapConfig added = alone.getConfig().getMapConfig(HazelcastBackend.DEFAULT_MAP);
            assertThat(added.getInMemoryFormat()).isEqualTo(InMemoryFormat.OBJECT);
            assertThat(added.getBackupCount()).isEqualTo(1);
            assertThat(set.tryAcquire(Request.of("requests", 2))).isPresent();
            assertThat(set.tryAcquire(Request.of("requests", 1))).isEmpty();
        } finally {
            alone.getLifecycleService().terminate();
        }
    }

    private static void awaitWaiting(LimitSet set) throws InterruptedException {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        while (set.stats().waiting() == 0) {
            assertThat(System.nanoTime()).as("a waiter queued in time").isLessThan(deadline);
            Thread.sleep(5);
        }
    }
}
