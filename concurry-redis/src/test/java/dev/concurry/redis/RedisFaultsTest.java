package dev.concurry.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.time.ManualClock;
import io.lettuce.core.RedisClient;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Issue 17 R1–R3 and E5 (SPEC L18): lost replies, late replies and a server that restarts empty never
 * make a permit count twice, and messages say what happened. Replies are lost or delayed by a TCP proxy
 * between the client and a real redis-server ({@link FaultProxy}).
 */
class RedisFaultsTest {
    private static final Request ONE_CONN = Request.of("conn", 1);
    /** A command timeout that a busy machine still meets, and a reply delay well past it. */
    private static final Duration TIMEOUT = Duration.ofSeconds(1);
    private static final Duration LATE = Duration.ofSeconds(3);
    @RegisterExtension
    static final LocalRedis redis = new LocalRedis();

    private static LimitSet set(RedisBackend backend, String name, Limit... limits) {
        LimitSet.Builder builder = LimitSet.builder().name(name).backend(backend);
        for (Limit limit : limits) {
            builder.add(limit);
        }
        return builder.build();
    }

    @Test
    @DisplayName("R1 L18 a lost reply to an acquire (the connection dropped, the client re-sends) takes the permit once")
    void R1_an_acquire_whose_reply_is_lost_is_applied_once() {
        ManualClock clock = new ManualClock();
        try (FaultProxy proxy = FaultProxy.to(redis.server().port)) {
            RedisClient viaProxy = RedisClient.create(proxy.uri());
            try (RedisBackend flaky = RedisBackend.builder(viaProxy).clock(clock).build();
                    RedisBackend direct = RedisBackend.builder(redis.client()).clock(clock).build()) {
                LimitSet lossy = set(flaky, "r1-acquire", ResourceLimit.of("conn", 3));
                LimitSet other = set(direct, "r1-acquire", ResourceLimit.of("conn", 3));
                for (int i = 0; i < 3; i++) {
                    proxy.loseReplyTo("acquire");
                    try {
                        lossy.tryAcquire(ONE_CONN).ifPresent(Acquisition::close);
                    } catch (RedisUnavailableException lost) {
                        // the client may also give up on the call: nothing may stay taken then either
                    }
                    assertThat(proxy.lostReply()).as("reply %d was lost", i).isTrue();
                }
                eventually(() -> other.stats().key("conn").inUse() == 0, "every permit released");
                // Without at-most-once each re-sent acquire took a second permit that nobody releases.
                for (int i = 0; i < 3; i++) {
                    assertThat(other.tryAcquire(ONE_CONN)).as("permit %d of 3", i + 1).isPresent();
                }
            } finally {
                viaProxy.shutdown();
            }
        }
    }

    @Test
    @DisplayName("R1 L13 a lost reply to a settlement refunds once")
    void R1_a_settlement_whose_reply_is_lost_refunds_once() throws Exception {
        ManualClock clock = new ManualClock();
        try (FaultProxy proxy = FaultProxy.to(redis.server().port)) {
            RedisClient viaProxy = RedisClient.create(proxy.uri());
            try (RedisBackend flaky = RedisBackend.builder(viaProxy).clock(clock).build();
                    RedisBackend direct = RedisBackend.builder(redis.client()).clock(clock).build()) {
                Limit tokens = RateLimit.of("tokens", 10, Duration.ofMinutes(1), RateAlgorithm.GCRA);
                LimitSet lossy = set(flaky, "r1-settle", tokens);
                LimitSet other = set(direct, "r1-settle", tokens);
                Acquisition unused = lossy.acquire(Request.of("tokens", 5));
                Acquisition kept = lossy.acquire(Request.of("tokens", 5));
                proxy.loseReplyTo("settle");
                unused.update("tokens", 0).close();
                assertThat(proxy.lostReply()).isTrue();
                eventually(() -> other.stats().key("tokens").available() >= 5, "the refund applied");
                Thread.sleep(500);   // time for a second application, if there were one
                // 5 refunded, 5 still used: a second refund would give back the kept grant's units too.
                assertThat(grantsNow(other, Request.of("tokens", 1), 20)).isEqualTo(5);
                kept.close();
            } finally {
                viaProxy.shutdown();
            }
        }
    }

    @Test
    @DisplayName("R2 L18 an acquire that timed out on the client but ran on the server is given back at once")
    void R2_a_timed_out_acquire_that_ran_is_given_back() {
        ManualClock clock = new ManualClock();
        Limit[] limits = {ResourceLimit.of("conn", 5), RateLimit.of("tokens", 10, Duration.ofMinutes(1),
                RateAlgorithm.TOKEN_BUCKET)};
        Request everything = Request.of("conn", 5).and("tokens", 10);
        try (FaultProxy proxy = FaultProxy.to(redis.server().port)) {
            RedisClient viaProxy = RedisClient.create(proxy.uri());
            try (RedisBackend flaky = RedisBackend.builder(viaProxy).clock(clock)
                    .commandTimeout(TIMEOUT).build();
                    RedisBackend direct = RedisBackend.builder(redis.client()).clock(clock).build()) {
                LimitSet slow = set(flaky, "r2", limits);
                LimitSet other = set(direct, "r2", limits);
                proxy.delayReplies(LATE);    // the script runs; its reply comes too late
                assertThatThrownBy(() -> slow.acquire(everything, Duration.ofSeconds(10)))
                        .isInstanceOf(RedisUnavailableException.class)
                        .hasMessageContaining("did not answer within " + TIMEOUT);
                proxy.delayReplies(Duration.ZERO);
                // The caller was told nothing was taken: every permit and token must come back, long
                // before the lease (30 s, and this clock never moves) would have expired.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                Optional<Acquisition> all = other.tryAcquire(everything);
                while (all.isEmpty()) {
                    assertThat(System.nanoTime() - deadline).as("given back within 10 s").isNegative();
                    sleep(50);
                    all = other.tryAcquire(everything);
                }
                all.get().close();
            } finally {
                viaProxy.shutdown();
            }
        }
    }

    @Test
    @DisplayName("R3 L18 after a restart without persistence no permit is granted twice: the holder re-asserts its lease")
    void R3_a_restart_without_persistence_grants_no_permit_twice() {
        Duration lease = Duration.ofSeconds(4);
        try (RedisServer restarting = RedisServer.start()) {
            RedisClient local = RedisClient.create(restarting.uri());
            try (RedisBackend holderBackend = RedisBackend.builder(local).leaseDuration(lease).build();
                    RedisBackend otherBackend = RedisBackend.builder(local).leaseDuration(lease).build()) {
                LimitSet holder = set(holderBackend, "r3", ResourceLimit.of("conn", 5));
                LimitSet other = set(otherBackend, "r3", ResourceLimit.of("conn", 5));
                Acquisition held = holder.acquire(Request.of("conn", 5), Duration.ofSeconds(30));
                restarting.restart();   // empty: the set, its lease and the script are gone
                // For two leases after Redis answers again, the other JVM is never granted a permit.
                long answeredAt = 0;
                long start = System.nanoTime();
                while (answeredAt == 0 || System.nanoTime() - answeredAt < 2 * lease.toNanos()) {
                    assertThat(System.nanoTime() - start).as("Redis answered again").isLessThan(60_000_000_000L);
                    try {
                        Optional<Acquisition> stolen = other.tryAcquire(ONE_CONN);
                        if (answeredAt == 0) {
                            answeredAt = System.nanoTime();
                        }
                        stolen.ifPresent(Acquisition::close);
                        assertThat(stolen).as("a permit while the holder still holds all 5, %d ms after Redis"
                                + " answered", (System.nanoTime() - answeredAt) / 1_000_000).isEmpty();
                    } catch (RedisUnavailableException restarting_) {
                        // not back yet
                    }
                    sleep(50);
                }
                assertThat(other.stats().key("conn").inUse()).as("re-asserted by the holder").isEqualTo(5);
                held.close();
                other.acquire(Request.of("conn", 5), Duration.ofSeconds(10)).close();
                assertThat(holderBackend.expiredLeases()).isZero();
            } finally {
                local.shutdown();
            }
        }
    }

    @Test
    @DisplayName("E5 after RedisBackend.close() every way to acquire says the backend is closed")
    void E5_after_close_messages_say_closed() {
        RedisBackend backend = RedisBackend.of(redis.client());
        LimitSet set = set(backend, "e5-closed", RateLimit.of("requests", 10, Duration.ofSeconds(1)));
        Request one = Request.of("requests", 1);
        set.tryAcquire(one).orElseThrow().close();
        backend.close();
        assertThatThrownBy(() -> set.tryAcquire(one)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is closed").hasMessageNotContaining("re-establish");
        assertThatThrownBy(() -> set.acquire(one)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is closed");
        assertThat(set.acquireAsync(one)).failsWithin(Duration.ofSeconds(5))
                .withThrowableOfType(ExecutionException.class)
                .withMessageContaining("is closed");
        assertThatThrownBy(set::stats).isInstanceOf(IllegalStateException.class).hasMessageContaining("is closed");
    }

    @Test
    @DisplayName("E5 R2 L13 a settlement that times out is applied once later, and the warning says so")
    void E5_a_settlement_that_timed_out_is_applied_once_and_the_warning_says_so() throws Exception {
        ManualClock clock = new ManualClock();
        Limit tokens = RateLimit.of("tokens", 10, Duration.ofMinutes(1), RateAlgorithm.TOKEN_BUCKET);
        try (FaultProxy proxy = FaultProxy.to(redis.server().port)) {
            RedisClient viaProxy = RedisClient.create(proxy.uri());
            try (RedisBackend flaky = RedisBackend.builder(viaProxy).clock(clock)
                    .commandTimeout(TIMEOUT).build();
                    RedisBackend direct = RedisBackend.builder(redis.client()).clock(clock).build()) {
                LimitSet slow = set(flaky, "e5-settle", tokens);
                LimitSet other = set(direct, "e5-settle", tokens);
                Acquisition unused = slow.acquire(Request.of("tokens", 4));
                Acquisition kept = slow.acquire(Request.of("tokens", 4));
                proxy.delayReplies(LATE);
                String warnings = stderrOf(() -> unused.update("tokens", 0).close());
                proxy.delayReplies(Duration.ZERO);
                assertThat(warnings).contains("could not settle").contains("will be applied, once")
                        .doesNotContain("nothing was taken");
                // 10 - 4 - 4 + 4 refunded = 6, however often the settlement was sent (a second refund: 10).
                eventually(() -> other.stats().key("tokens").available() >= 6, "the refund applied");
                Thread.sleep(500);
                assertThat(other.stats().key("tokens").available()).isEqualTo(6);
                kept.close();
            } finally {
                viaProxy.shutdown();
            }
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private static int grantsNow(LimitSet set, Request request, int max) {
        int n = 0;
        while (n < max && set.tryAcquire(request).isPresent()) {
            n++;
        }
        return n;
    }

    /** What {@code action} printed on {@code System.err} (where slf4j-simple logs). */
    private static String stderrOf(Runnable action) {
        PrintStream original = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            action.run();
        } finally {
            System.setErr(original);
        }
        String text = captured.toString(StandardCharsets.UTF_8);
        original.print(text);
        return text;
    }

    private static void eventually(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            try {
                if (condition.getAsBoolean()) {
                    return;
                }
            } catch (RedisUnavailableException notYet) {
                // reconnecting
            }
            assertThat(System.nanoTime() - deadline).as("%s within 10 s", what).isNegative();
            sleep(50);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
