package dev.concurry.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.AcquireTimeoutException;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Attempt;
import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Refusal;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * SPEC L25: a refusal explains itself — the keys that were short, how much each had, and the earliest
 * moment the whole request could be granted — for a try ({@code attempt}), a timeout (blocking and
 * async) and a pool, exactly on the manual clock.
 */
public abstract class RefusalTck extends BackendTck {

    /** 100 tokens per second (one every 10 ms) and 10 requests per second, token buckets; 2 connections. */
    private LimitSet set() {
        return set(RateLimit.of("tokens", 100, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET),
                RateLimit.of("requests", 10, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET),
                ResourceLimit.of("conn", 2));
    }

    private static Refusal refusal(Attempt attempt) {
        assertThat(attempt).isInstanceOf(Attempt.Refused.class);
        return ((Attempt.Refused) attempt).refusal();
    }

    @Test
    @DisplayName("L25 attempt grants like tryAcquire when it can")
    void L25_attempt_grants() {
        LimitSet set = set();
        Attempt attempt = set.attempt(Request.of("tokens", 10).and("conn", 1));
        assertThat(attempt).isInstanceOf(Attempt.Granted.class);
        ((Attempt.Granted) attempt).acquisition().close();
        assertThat(set.stats().key("tokens").inUse()).isEqualTo(10);
        assertThat(set.stats().granted()).isEqualTo(1);
    }

    @Test
    @DisplayName("L25 a refused attempt names only the short key, what it had, and when the request can be granted")
    void L25_attempt_names_the_short_key_and_when() {
        LimitSet set = set();
        granted(set, Request.of("tokens", 60)).close();                  // 40 left; 60 more take 600 ms
        Request request = Request.of("tokens", 100).and("requests", 1);
        Refusal refusal = refusal(set.attempt(request));
        assertThat(refusal.set()).isEqualTo(set.name());
        assertThat(refusal.request()).isEqualTo(request);
        assertThat(refusal.shortages()).hasSize(1);
        Refusal.Shortage tokens = refusal.shortage("tokens").orElseThrow();
        assertThat(tokens.requested()).isEqualTo(100);
        assertThat(tokens.available()).isEqualTo(40);
        assertThat(tokens.capacity()).isEqualTo(100);
        assertThat(refusal.shortage("requests")).as("requests were not short").isEmpty();
        assertThat(refusal.grantableIn()).contains(Duration.ofMillis(600));
        assertThat(refusal.queuedBehind()).isFalse();
        assertThat(refusal.toString()).contains("tokens: 40 of 100 available").contains("grantable in 600.0 ms");
        assertThat(set.stats().rejected()).as("a refused attempt counts as a rejection").isEqualTo(1);
        assertThat(set.stats().key("tokens").inUse()).as("nothing taken").isEqualTo(60);
        // Exactly then, it is granted.
        advanceTo(600 * MS);
        assertThat(set.attempt(request)).isInstanceOf(Attempt.Granted.class);
    }

    @Test
    @DisplayName("L25 a resource limit that only a release can free: no grantable time")
    void L25_resource_refusal_has_no_time() {
        LimitSet set = set();
        Acquisition both = granted(set, Request.of("conn", 2));
        Refusal refusal = refusal(set.attempt(Request.of("conn", 1)));
        assertThat(refusal.shortage("conn").orElseThrow().available()).isZero();
        assertThat(refusal.grantableIn()).isEmpty();
        assertThat(refusal.toString()).contains("conn: 0 of 1 available").contains("only once units are released");
        both.close();
        assertThat(set.attempt(Request.of("conn", 1))).isInstanceOf(Attempt.Granted.class);
    }

    @Test
    @DisplayName("L25 L12 a newcomer behind a waiter short of the same key is told it queues behind it")
    void L25_queued_behind_a_waiter() {
        LimitSet set = set();
        granted(set, Request.of("tokens", 100)).close();
        Future<Acquisition> first = waiter(set, Request.of("tokens", 50), WaitMode.ASYNC);
        Refusal refusal = refusal(set.attempt(Request.of("tokens", 1)));
        assertThat(refusal.queuedBehind()).isTrue();
        assertThat(refusal.shortage("tokens")).isPresent();
        assertThat(refusal.grantableIn()).as("the waiter ahead is served first").isEmpty();
        advanceTo(500 * MS);
        await(first).close();
    }

    @Test
    @DisplayName("L25 a blocking acquire that times out says which key was short and how long it still needed")
    void L25_blocking_timeout_carries_the_facts() throws Exception {
        LimitSet set = set();
        granted(set, Request.of("tokens", 100)).close();                 // empty: 100 tokens take 1 s
        Future<Acquisition> waiter = onAnotherThread(
                () -> set.acquire(Request.of("tokens", 100), Duration.ofMillis(400)));
        awaitWaiting(set, 1);
        advanceTo(400 * MS);
        Throwable failure = failureOf(waiter);
        assertThat(failure).isInstanceOf(AcquireTimeoutException.class)
                .hasMessageContaining("tokens: 40 of 100 available").hasMessageContaining("nothing was taken");
        Refusal refusal = ((AcquireTimeoutException) failure).refusal().orElseThrow();
        assertThat(refusal.shortage("tokens").orElseThrow().available()).isEqualTo(40);
        assertThat(refusal.grantableIn()).as("at the deadline, 600 ms were still missing")
                .contains(Duration.ofMillis(600));
        assertThat(set.stats().timedOut()).isEqualTo(1);
    }

    @Test
    @DisplayName("L25 acquire and acquireAsync with a zero or a positive timeout fail with the same facts")
    void L25_zero_and_async_timeouts_carry_the_facts() {
        LimitSet set = set();
        Acquisition both = granted(set, Request.of("conn", 2));
        assertThatThrownBy(() -> set.acquire(Request.of("conn", 1), Duration.ZERO))
                .isInstanceOf(AcquireTimeoutException.class)
                .satisfies(e -> assertThat(((AcquireTimeoutException) e).refusal().orElseThrow().shortage("conn"))
                        .isPresent());
        Throwable now = failureOf(set.acquireAsync(Request.of("conn", 1), Duration.ZERO));
        assertThat(now).isInstanceOf(AcquireTimeoutException.class);
        assertThat(((AcquireTimeoutException) now).refusal().orElseThrow().shortage("conn")).isPresent();
        await(set.acquireAsync(Request.of("tokens", 1), Duration.ZERO)).close();     // one that fits is granted
        CompletableFuture<Acquisition> async = set.acquireAsync(Request.of("conn", 1), Duration.ofMillis(250));
        awaitWaiting(set, 1);
        advanceTo(250 * MS - 1);
        assertThat(async).isNotDone();
        advanceTo(250 * MS);
        Throwable failure = failureOf(async);
        assertThat(failure).isInstanceOf(AcquireTimeoutException.class);
        Refusal refusal = ((AcquireTimeoutException) failure).refusal().orElseThrow();
        assertThat(refusal.shortage("conn").orElseThrow().available()).isZero();
        assertThat(refusal.grantableIn()).isEmpty();
        assertThat(set.stats().timedOut()).isEqualTo(3);
        assertThat(set.stats().waiting()).isZero();
        both.close();
        assertThat(set.stats().key("conn").inUse()).isZero();
    }

    @Test
    @DisplayName("L25 L21 a pool's refusal is its best member's, naming it")
    void L25_a_pool_refusal_is_the_best_members() {
        LimitSet slow = set(RateLimit.of("tokens", 100, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET));
        LimitSet fast = set(RateLimit.of("tokens", 100, Duration.ofMillis(100), RateAlgorithm.TOKEN_BUCKET));
        granted(slow, Request.of("tokens", 100)).close();
        granted(fast, Request.of("tokens", 100)).close();
        LimitPool pool = LimitPool.builder().add(slow).add(fast).clock(clock).build();
        Refusal refusal = refusal(pool.attempt(Request.of("tokens", 50)));
        assertThat(refusal.set()).isEqualTo(fast.name());
        assertThat(refusal.grantableIn()).contains(Duration.ofMillis(50));
        assertThat(pool.poolStats().rejected()).isEqualTo(1);
        Optional<Duration> none = Optional.empty();
        assertThat(refusal.grantableIn()).isNotEqualTo(none);
    }
}
