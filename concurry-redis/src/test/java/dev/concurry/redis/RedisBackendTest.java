package dev.concurry.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.time.ManualClock;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What only the Redis backend does (SPEC L18): sharing by name, leases, notifications, failures. */
class RedisBackendTest {
    private static final Request ONE_CONN = Request.of("conn", 1);
    private static final Duration SHORT_LEASE = Duration.ofSeconds(1);
    @RegisterExtension
    static final LocalRedis redis = new LocalRedis();

    private static LimitSet set(RedisBackend backend, String name, dev.concurry.limit.Limit... limits) {
        LimitSet.Builder builder = LimitSet.builder().name(name).backend(backend);
        for (dev.concurry.limit.Limit limit : limits) {
            builder.add(limit);
        }
        return builder.build();
    }

    @Test
    void L18_sets_with_the_same_name_share_one_quota_across_backends() {
        try (RedisBackend a = RedisBackend.of(redis.client()); RedisBackend b = RedisBackend.of(redis.client())) {
            LimitSet first = set(a, "shared-quota", RateLimit.of("requests", 3, Duration.ofMinutes(1)));
            LimitSet second = set(b, "shared-quota", RateLimit.of("requests", 3, Duration.ofMinutes(1)));
            Request one = Request.of("requests", 1);
            assertThat(first.tryAcquire(one)).isPresent();
            assertThat(second.tryAcquire(one)).isPresent();
            assertThat(first.tryAcquire(one)).isPresent();
            assertThat(second.tryAcquire(one)).as("the fourth request of the minute, from either JVM").isEmpty();
            assertThat(first.stats().key("requests").inUse()).isEqualTo(3);
        }
    }

    @Test
    @DisplayName("E4 L4 a lease too long for nanoseconds is refused naming the field; the longest one and a command"
            + " timeout of centuries work")
    void L4_durations_beyond_nanoseconds() {
        Duration huge = Duration.ofDays(Long.MAX_VALUE / 86_400);
        Duration longest = Duration.ofNanos(Long.MAX_VALUE);
        assertThatThrownBy(() -> RedisBackend.builder(redis.client()).leaseDuration(huge))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("leaseDuration").hasMessageContaining(huge.toString());
        // On a test clock: on the server's clock, a server started less than 30 s ago withholds permits of a
        // new set for up to 30 s (R3: holders of a state it may have lost re-assert meanwhile).
        try (RedisBackend backend = RedisBackend.builder(redis.client()).clock(new ManualClock()).leaseDuration(longest)
                .commandTimeout(huge).build()) {
            LimitSet set = set(backend, "huge-durations", ResourceLimit.of("conn", 1));
            Acquisition held = set.acquire(ONE_CONN, huge);
            assertThat(set.tryAcquire(ONE_CONN)).isEmpty();
            held.close();
            set.tryAcquire(ONE_CONN).orElseThrow().close();
        }
    }

    @Test
    @DisplayName("A1 L6 a sliding window in Redis keeps a field per live entry only, not one per ring slot")
    void L6_sliding_window_hash_holds_only_live_entries() {
        ManualClock clock = new ManualClock();
        try (RedisBackend backend = RedisBackend.builder(redis.client()).clock(clock).build();
                var connection = redis.client().connect()) {
            LimitSet set = set(backend, "few-live", RateLimit.of("requests", 10, Duration.ofSeconds(1)));
            // 2,000 grants, one every 200 ms: 5 live at a time, while the ring's 512 slots are all used in turn.
            for (int i = 0; i < 2_000; i++) {
                set.tryAcquire(Request.of("requests", 1)).orElseThrow().close();
                clock.advance(Duration.ofMillis(200));
            }
            long entryFields = connection.sync().hkeys("concurry:{few-live}").stream()
                    .filter(field -> field.startsWith("s0.")).count();
            assertThat(entryFields).isBetween(1L, 5L);
        }
    }

    @Test
    void L18_a_set_declared_with_other_limits_under_the_same_name_is_refused() {
        try (RedisBackend backend = RedisBackend.of(redis.client())) {
            set(backend, "mismatch", RateLimit.of("requests", 500, Duration.ofMinutes(1)));
            assertThatThrownBy(() -> set(backend, "mismatch", RateLimit.of("requests", 600, Duration.ofMinutes(1))))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("'mismatch' already exists in Redis")
                    .hasMessageContaining("S:500.0:60000000000")
                    .hasMessageContaining("same limits");
            assertThatThrownBy(() -> set(backend, "mismatch", RateLimit.of("tokens", 500, Duration.ofMinutes(1))))
                    .as("same numbers, other key").isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    @DisplayName("L18 a set stored by another version of Concurry (another state layout) is refused, saying so")
    void L18_a_set_in_another_layout_is_refused_with_a_message_saying_so() {
        try (RedisBackend backend = RedisBackend.of(redis.client()); var connection = redis.client().connect()) {
            connection.sync().hset("concurry:{old-layout}", "sig", "concurry2#0123456789ab|S:500.0:60000000000");
            assertThatThrownBy(() -> set(backend, "old-layout", RateLimit.of("requests", 500, Duration.ofMinutes(1))))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("another version of Concurry")
                    .hasMessageContaining("concurry2#");
        }
    }

    @Test
    void L18_unreachable_redis_fails_closed_with_a_clear_exception_or_grants_when_fail_open() throws Exception {
        int port = RedisServer.freePort();
        RedisClient nowhere = RedisClient.create(RedisURI.create("redis://127.0.0.1:" + port));
        try (RedisBackend closed = RedisBackend.of(nowhere);
                RedisBackend open = RedisBackend.builder(nowhere).failOpen(true).build()) {
            assertThatThrownBy(() -> set(closed, "down", RateLimit.of("requests", 1, Duration.ofSeconds(1))))
                    .isInstanceOf(RedisUnavailableException.class)
                    .hasMessageContaining("Redis at redis://127.0.0.1:" + port)
                    .hasMessageContaining("unreachable");
            LimitSet failOpen = set(open, "down", RateLimit.of("requests", 1, Duration.ofSeconds(1)));
            for (int i = 0; i < 3; i++) {
                try (Acquisition acq = failOpen.acquire(Request.of("requests", 1), Duration.ofSeconds(1))) {
                    assertThat(acq.granted()).containsEntry("requests", 1.0);
                }
            }
        } finally {
            nowhere.shutdown();
        }
    }

    @Test
    void L18_wrong_password_is_a_clear_configuration_error() {
        try (RedisServer secured = RedisServer.start("--requirepass", "the-password")) {
            RedisClient wrong = RedisClient.create("redis://not-the-password@127.0.0.1:" + secured.port);
            try (RedisBackend backend = RedisBackend.of(wrong)) {
                assertThatThrownBy(() -> set(backend, "auth", RateLimit.of("requests", 1, Duration.ofSeconds(1))))
                        .isInstanceOf(IllegalStateException.class)
                        .hasMessageContaining("refused the credentials");
            } finally {
                wrong.shutdown();
            }
        }
    }

    @Test
    void L18_a_release_in_another_jvm_wakes_a_waiter_at_once() throws Exception {
        // A short lease: a server started less than a lease ago withholds permits that long (R3).
        try (RedisBackend holder = RedisBackend.builder(redis.client()).leaseDuration(SHORT_LEASE).build();
                RedisBackend waiter = RedisBackend.builder(redis.client()).leaseDuration(SHORT_LEASE).build()) {
            LimitSet a = set(holder, "wake", ResourceLimit.of("conn", 1));
            LimitSet b = set(waiter, "wake", ResourceLimit.of("conn", 1));
            Acquisition held = a.acquire(ONE_CONN);
            CompletableFuture<Acquisition> waiting = b.acquireAsync(ONE_CONN);
            Thread.sleep(200);
            assertThat(waiting).isNotDone();
            long released = System.nanoTime();
            held.close();
            // Without the notification it would wake only at the holder's lease expiry (30 s).
            Acquisition got = waiting.get(5, TimeUnit.SECONDS);
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - released)).isLessThan(2_000);
            got.close();
        }
    }

    @Test
    void L12_waits_on_the_servers_clock_without_polling() {
        try (RedisBackend backend = RedisBackend.of(redis.client())) {
            LimitSet set = set(backend, "server-clock",
                    RateLimit.of("requests", 10, Duration.ofSeconds(1), RateAlgorithm.LEAKY_BUCKET));
            set.acquire(Request.of("requests", 1)).close();
            long start = System.nanoTime();
            set.acquire(Request.of("requests", 1)).close();
            set.acquire(Request.of("requests", 1)).close();
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            // Two more grants spaced 100 ms apart: about 200 ms.
            assertThat(ms).isBetween(150L, 1_500L);
            assertThat(set.stats().granted()).isEqualTo(3);
        }
    }

    @Test
    void L18_a_stalled_holders_lease_expires_its_permit_returns_and_its_late_release_is_not_counted_twice() {
        // The holder's clock stands still (as if its JVM hung: no renewals); the other JVM's time moves on.
        ManualClock stalled = new ManualClock();
        ManualClock running = new ManualClock();
        Duration lease = Duration.ofSeconds(1);
        try (RedisBackend holderBackend = RedisBackend.builder(redis.client()).clock(stalled).leaseDuration(lease)
                .build();
                RedisBackend otherBackend = RedisBackend.builder(redis.client()).clock(running).leaseDuration(lease)
                        .build()) {
            LimitSet holder = set(holderBackend, "lease", ResourceLimit.of("conn", 1));
            LimitSet other = set(otherBackend, "lease", ResourceLimit.of("conn", 1));
            Acquisition held = holder.tryAcquire(ONE_CONN).orElseThrow();
            running.advance(Duration.ofMillis(900));
            assertThat(other.tryAcquire(ONE_CONN)).as("the lease still runs").isEmpty();
            running.advance(Duration.ofMillis(100));
            Optional<Acquisition> reclaimed = other.tryAcquire(ONE_CONN);
            assertThat(reclaimed).as("the expired lease was reclaimed").isPresent();
            held.close();
            assertThat(holderBackend.expiredLeases()).isEqualTo(1);
            assertThat(other.stats().key("conn").inUse()).as("the late release did not free the new holder's permit")
                    .isEqualTo(1);
            reclaimed.get().close();
            assertThat(other.stats().key("conn").inUse()).isZero();
        }
    }

    @Test
    void L18_held_permits_are_renewed_and_do_not_expire_while_their_holder_lives() {
        ManualClock clock = new ManualClock();
        try (RedisBackend backend = RedisBackend.builder(redis.client()).clock(clock)
                .leaseDuration(Duration.ofSeconds(1))
                .build()) {
            LimitSet set = set(backend, "renewed", ResourceLimit.of("conn", 1));
            Acquisition held = set.tryAcquire(ONE_CONN).orElseThrow();
            for (int i = 0; i < 10; i++) {
                clock.advance(Duration.ofMillis(300));
                // renewals are sent asynchronously; stats queue behind them on the same connection
                assertThat(set.stats().key("conn").inUse()).as("after %d ms", 300 * (i + 1)).isEqualTo(1);
            }
            assertThat(set.tryAcquire(ONE_CONN)).isEmpty();
            held.close();
            assertThat(backend.expiredLeases()).isZero();
            assertThat(set.tryAcquire(ONE_CONN)).isPresent();
        }
    }

    @Test
    void L18_redis_restarting_gives_a_clear_error_then_recovers_without_restarting_the_application() throws Exception {
        try (RedisServer restarting = RedisServer.start()) {
            RedisClient local = RedisClient.create(restarting.uri());
            try (RedisBackend backend = RedisBackend.builder(local).commandTimeout(Duration.ofSeconds(2)).build()) {
                LimitSet set = set(backend, "restart", RateLimit.of("requests", 1000, Duration.ofSeconds(1)));
                Request one = Request.of("requests", 1);
                assertThat(set.tryAcquire(one)).isPresent();
                Acquisition open = set.tryAcquire(one).orElseThrow().update("requests", 0);
                restarting.stop();
                assertThatCode(open::close).as("L13: close never throws, even when the refund cannot reach Redis")
                        .doesNotThrowAnyException();
                assertThatThrownBy(() -> set.tryAcquire(one))
                        .isInstanceOf(RedisUnavailableException.class)
                        .hasMessageContaining("Redis at " + restarting.uri())
                        .hasMessageContaining("'restart'");
                assertThatThrownBy(() -> set.acquire(one, Duration.ofSeconds(1)))
                        .isInstanceOf(RedisUnavailableException.class);
                restarting.restart();   // empty: the script and the set are gone too
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                Optional<Acquisition> after = Optional.empty();
                while (after.isEmpty()) {
                    try {
                        after = set.tryAcquire(one);
                    } catch (RedisUnavailableException stillDown) {
                        assertThat(System.nanoTime() - deadline).as("recovered within 60 s").isNegative();
                        Thread.sleep(100);
                    }
                }
                after.get().close();
                assertThat(set.stats().key("requests").inUse()).as("counted again from a fresh state").isEqualTo(1);
                assertThat(set.stats().granted()).as("this JVM's grants, before and after the restart").isEqualTo(3);
            } finally {
                local.shutdown();
            }
        }
    }

    @Test
    void L18_an_abandoned_sets_keys_expire_from_redis() throws Exception {
        var connection = redis.client().connect();
        var commands = connection.sync();
        try (RedisBackend backend = RedisBackend.builder(redis.client()).keyPrefix("expiring:")
                .leaseDuration(Duration.ofMillis(100)).build()) {
            LimitSet set = set(backend, "abandoned", RateLimit.of("requests", 5, Duration.ofMillis(100)),
                    ResourceLimit.of("conn", 1));
            set.acquire(Request.of("requests", 1).and("conn", 1)).close();
            assertThat(commands.exists("expiring:{abandoned}", "expiring:{abandoned}:leases")).isEqualTo(1);
            // TTL: twice what is needed (a window, the state's horizon: a window here, three leases) plus a
            // second: 2 × 500 ms + 1 s, set again before less than what is needed remains.
            assertThat(commands.pttl("expiring:{abandoned}")).isBetween(1_000L, 2_000L);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (commands.exists("expiring:{abandoned}") > 0) {
                assertThat(System.nanoTime() - deadline).as("keys expired").isNegative();
                Thread.sleep(100);
            }
        } finally {
            connection.close();
        }
    }

    @Test
    void L18_sets_sharing_a_name_on_one_backend_wake_each_others_waiters() throws Exception {
        try (RedisBackend backend = RedisBackend.builder(redis.client()).leaseDuration(SHORT_LEASE).build()) {
            LimitSet a = set(backend, "same-backend", ResourceLimit.of("conn", 1));
            LimitSet b = set(backend, "same-backend", ResourceLimit.of("conn", 1));
            LimitSet c = set(backend, "same-backend", ResourceLimit.of("conn", 1));
            c.close();   // closing one set must not stop the others' notifications
            Acquisition held = a.acquire(ONE_CONN);
            CompletableFuture<Acquisition> waiting = b.acquireAsync(ONE_CONN);
            Thread.sleep(200);
            assertThat(waiting).isNotDone();
            held.close();
            waiting.get(5, TimeUnit.SECONDS).close();
        }
    }
}
