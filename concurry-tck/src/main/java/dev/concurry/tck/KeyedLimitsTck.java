package dev.concurry.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.AcquireTimeoutException;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Attempt;
import dev.concurry.limit.KeyedLimits;
import dev.concurry.limit.Limit;
import dev.concurry.limit.Limiter;
import dev.concurry.limit.LimitStats;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Refusal;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * SPEC L24: a keyed family behaves, for each key, exactly as a set of its limits, and keys never share
 * a quota. A backend module that supports keyed families ({@code LimitBackend.openFamily}) runs it by
 * subclassing it, as it does {@link LimitSetTck}:
 *
 * <pre>{@code
 * class RedisKeyedLimitsTest extends KeyedLimitsTck {
 *     @Override
 *     protected LimitBackend backend(ManualClock clock) {
 *         return RedisBackend.of(redisClient, clock);
 *     }
 * }
 * }</pre>
 *
 * <p>Families are built with {@code evictIdleAfter} of 10 ms of the manual clock, so that keys are
 * dropped and opened again between steps wherever dropping them is allowed: what a key counts must
 * survive that.
 */
public abstract class KeyedLimitsTck extends BackendTck {
    private static final Duration IDLE = Duration.ofMillis(10);
    private static final Request ONE = Request.of("requests", 1);
    private final List<KeyedLimits<?>> families = new ArrayList<>();

    @AfterEach
    void closeFamilies() {
        families.forEach(KeyedLimits::close);
    }

    /** A family of {@code limits} on the backend under test and this test's clock; closed after the test. */
    protected <K> KeyedLimits.Builder<K> family(Limit... limits) {
        KeyedLimits.Builder<K> builder = KeyedLimits.<K>builder().backend(backend(clock)).evictIdleAfter(IDLE);
        for (Limit limit : limits) {
            builder.add(limit);
        }
        return builder;
    }

    private <K> KeyedLimits<K> track(KeyedLimits<K> family) {
        families.add(family);
        return family;
    }

    /** 10 requests per second (one every 100 ms), token bucket, and 2 jobs. */
    private KeyedLimits<String> customers() {
        return track(
                this.<String>family(RateLimit.of("requests", 10, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET),
                        ResourceLimit.of("jobs", 2)).name("customers").build());
    }

    private static int grantsNow(KeyedLimits<String> family, String key, Request request, int max) {
        int n = 0;
        while (n < max && family.tryAcquire(key, request).map(acq -> {
            acq.close();
            return true;
        }).orElse(false)) {
            n++;
        }
        return n;
    }

    private static Refusal refusal(Attempt attempt) {
        assertThat(attempt).isInstanceOf(Attempt.Refused.class);
        return ((Attempt.Refused) attempt).refusal();
    }

    @Test
    @DisplayName("L24 each key has its own quota: one key exhausted leaves the others whole")
    void L24_each_key_has_its_own_quota() {
        KeyedLimits<String> family = customers();
        assertThat(grantsNow(family, "acme", ONE, 20)).isEqualTo(10);
        assertThat(grantsNow(family, "globex", ONE, 20)).isEqualTo(10);
        assertThat(family.tryAcquire("acme", ONE)).isEmpty();
        assertThat(family.stats("acme").key("requests").available()).isZero();
        assertThat(family.stats("initech").key("requests").available()).isEqualTo(10);
    }

    @Test
    @DisplayName("L24 keys are values: equal keys share one quota, whatever the instance")
    void L24_equal_keys_share_one_quota() {
        record Tenant(String region, int id) {
        }
        KeyedLimits<Tenant> family = track(this.<Tenant>family(ResourceLimit.of("jobs", 1)).build());
        Acquisition held = family.tryAcquire(new Tenant("eu", 7), Request.of("jobs", 1)).orElseThrow();
        assertThat(family.tryAcquire(new Tenant("eu", 7), Request.of("jobs", 1))).isEmpty();
        assertThat(family.tryAcquire(new Tenant("us", 7), Request.of("jobs", 1))).isPresent().get()
                .satisfies(Acquisition::close);
        held.close();
        assertThat(family.tryAcquire(new Tenant("eu", 7), Request.of("jobs", 1))).isPresent().get()
                .satisfies(Acquisition::close);
    }

    @Test
    @DisplayName("L24/L12 a blocking acquire waits for its own key only, and is granted at the exact instant")
    void L24_blocking_acquire_waits_for_its_key_only() {
        KeyedLimits<String> family = customers();
        grantsNow(family, "acme", ONE, 10);                          // acme: empty until 100 ms
        Future<Acquisition> waiter = onAnotherThread(() -> family.acquire("acme", ONE));
        awaitTrue(() -> family.stats("acme").waiting() == 1, "acme's waiter to queue");
        assertThat(grantsNow(family, "globex", ONE, 20)).as("globex is not held up").isEqualTo(10);
        advanceTo(100 * MS - 1);
        assertThat(waiter).isNotDone();
        advanceTo(100 * MS);
        await(waiter).close();
        assertThat(family.stats("acme").waiting()).isZero();
    }

    @Test
    @DisplayName("L24/L12 waiters of one key are served first-come first-served")
    void L24_waiters_of_one_key_are_fifo() {
        KeyedLimits<String> family = customers();
        Acquisition both = family.tryAcquire("acme", Request.of("jobs", 2)).orElseThrow();
        CompletableFuture<Acquisition> big = family.acquireAsync("acme", Request.of("jobs", 2));
        CompletableFuture<Acquisition> small = family.acquireAsync("acme", Request.of("jobs", 1));
        assertThat(family.stats("acme").waiting()).isEqualTo(2);
        both.close();
        Acquisition first = await(big);
        assertThat(small).as("the small request does not overtake the large one").isNotDone();
        first.close();
        await(small).close();
    }

    @Test
    @DisplayName("L24/L11 acquire with a timeout: the key's refusal at the deadline, nothing taken")
    void L24_acquire_timeout_explains_itself() {
        KeyedLimits<String> family = customers();
        Acquisition held = family.tryAcquire("acme", Request.of("jobs", 2)).orElseThrow();
        Future<Acquisition> waiter = onAnotherThread(() -> family.acquire("acme", Request.of("jobs", 1),
                Duration.ofMillis(50)));
        awaitTrue(() -> family.stats("acme").waiting() == 1, "acme's waiter to queue");
        advanceTo(50 * MS);
        Throwable failure = failureOf(waiter);
        assertThat(failure).isInstanceOf(AcquireTimeoutException.class);
        Refusal refusal = ((AcquireTimeoutException) failure).refusal().orElseThrow();
        assertThat(refusal.set()).isEqualTo("customers");
        assertThat(refusal.shortage("jobs")).get().extracting(Refusal.Shortage::available).isEqualTo(0.0);
        assertThat(family.stats("acme").timedOut()).isEqualTo(1);
        assertThat(family.stats("acme").waiting()).isZero();
        held.close();
        assertThat(family.stats("acme").key("jobs").inUse()).isZero();
    }

    @Test
    @DisplayName("L24/L11 acquireAsync: granted exactly when due; timeout and cancel leave nothing taken")
    void L24_async_forms() {
        KeyedLimits<String> family = customers();
        grantsNow(family, "acme", ONE, 10);
        CompletableFuture<Acquisition> due = family.acquireAsync("acme", Request.of("requests", 2));
        advanceTo(200 * MS - 1);
        assertThat(due).isNotDone();
        advanceTo(200 * MS);
        await(due).close();

        CompletableFuture<Acquisition> timed = family.acquireAsync("acme", Request.of("requests", 5),
                Duration.ofMillis(100));
        advanceTo(300 * MS);
        assertThat(failureOf(timed)).isInstanceOf(AcquireTimeoutException.class);

        CompletableFuture<Acquisition> cancelled = family.acquireAsync("acme", Request.of("requests", 10));
        assertThat(family.stats("acme").waiting()).isEqualTo(1);
        cancelled.cancel(false);
        assertThat(family.stats("acme").waiting()).isZero();
        advanceTo(2_000 * MS);
        assertThat(family.stats("acme").key("requests").available()).as("nothing taken").isEqualTo(10);
    }

    @Test
    @DisplayName("L25 attempt: a refused key says what was short, when it can be granted, and its config")
    void L25_attempt_refusal_is_per_key() {
        KeyedLimits<String> family = track(this.<String>family(
                RateLimit.of("requests", 10, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET))
                .name("api").config(Map.of("service", "search")).config(id -> Map.of("customer", id)).build());
        grantsNow(family, "acme", Request.of("requests", 4), 2);    // 2 left; 3 more need 100 ms
        Refusal refusal = refusal(family.attempt("acme", Request.of("requests", 3)));
        assertThat(refusal.grantableIn()).contains(Duration.ofMillis(100));
        assertThat(refusal.shortage("requests")).get().extracting(Refusal.Shortage::available).isEqualTo(2.0);
        assertThat(refusal.config()).isEqualTo(Map.of("service", "search", "customer", "acme"));
        assertThat(family.attempt("globex", Request.of("requests", 3))).isInstanceOf(Attempt.Granted.class)
                .satisfies(granted -> ((Attempt.Granted) granted).acquisition().close());
        advanceTo(100 * MS);
        assertThat(family.attempt("acme", Request.of("requests", 3))).isInstanceOf(Attempt.Granted.class)
                .satisfies(granted -> ((Attempt.Granted) granted).acquisition().close());
    }

    @Test
    @DisplayName("L24 overrides: the first tier whose predicate accepts a key gives its limits")
    void L24_overrides_first_match_wins() {
        KeyedLimits<String> family = track(this.<String>family(RateLimit.of("requests", 2, Duration.ofSeconds(1)))
                .override(id -> id.startsWith("premium-"), RateLimit.of("requests", 5, Duration.ofSeconds(1)))
                .override(id -> id.startsWith("premium"), RateLimit.of("requests", 100, Duration.ofSeconds(1)))
                .build());
        assertThat(grantsNow(family, "basic-1", ONE, 200)).isEqualTo(2);
        assertThat(grantsNow(family, "premium-1", ONE, 200)).isEqualTo(5);
        assertThat(grantsNow(family, "premiumplus", ONE, 200)).isEqualTo(100);
        assertThat(family.limits("premium-2").get(0).capacity()).isEqualTo(5);
        assertThat(family.limits()).as("the template").extracting(Limit::capacity).containsExactly(2.0);
        assertThatThrownBy(() -> family.tryAcquire("basic-2", Request.of("requests", 3)))
                .as("above the basic tier's capacity").isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("exceeds its capacity 2.0");
    }

    @Test
    @DisplayName("L24/L13 settling is per key: a refund or a debt touches only its own key")
    void L24_settling_is_per_key() {
        KeyedLimits<String> family = customers();
        try (Acquisition acq = family.acquire("acme", Request.of("requests", 5))) {
            acq.update("requests", 15);                              // 10 - 15 = -5: 1 token after 600 ms
        }
        try (Acquisition acq = family.acquire("globex", Request.of("requests", 5))) {
            acq.update("requests", 1);                               // 4 refunded: 9 left
        }
        assertThat(family.stats("acme").key("requests").available()).isEqualTo(-5);
        assertThat(family.stats("acme").charged()).isEqualTo(10);
        assertThat(family.stats("globex").key("requests").available()).isEqualTo(9);
        assertThat(family.stats("globex").refunded()).isEqualTo(4);
        advanceTo(600 * MS - 1);
        assertThat(family.tryAcquire("acme", ONE)).as("the debt outlives idle ticks").isEmpty();
        advanceTo(600 * MS);
        assertThat(family.tryAcquire("acme", ONE)).isPresent().get().satisfies(Acquisition::close);
    }

    @Test
    @DisplayName("L24 what a key counts survives any time it is left alone (a window, a held permit)")
    void L24_counting_state_survives_idle_ticks() {
        KeyedLimits<String> family = track(this.<String>family(RateLimit.of("requests", 3, Duration.ofSeconds(1)),
                ResourceLimit.of("jobs", 1)).build());
        assertThat(grantsNow(family, "acme", ONE, 10)).isEqualTo(3);
        Acquisition job = family.tryAcquire("globex", Request.of("jobs", 1)).orElseThrow();
        advanceTo(999 * MS);                                          // ~100 idle ticks
        assertThat(family.tryAcquire("acme", ONE)).as("the window still counts").isEmpty();
        assertThat(family.tryAcquire("globex", Request.of("jobs", 1))).as("the permit is still held").isEmpty();
        advanceTo(1_000 * MS);
        assertThat(grantsNow(family, "acme", ONE, 10)).isEqualTo(3);
        job.close();
        advanceTo(5_000 * MS);
        assertThat(family.tryAcquire("globex", Request.of("jobs", 1))).isPresent().get().satisfies(Acquisition::close);
    }

    @Test
    @DisplayName("L24 forKey: a Limiter of one key, sharing that key's quota")
    void L24_for_key_is_a_limiter_of_the_key() {
        KeyedLimits<String> family = customers();
        Limiter acme = family.forKey("acme");
        try (Acquisition acq = acme.acquire(Request.of("requests", 4))) {
            assertThat(acq.granted()).isEqualTo(Map.of("requests", 4.0));
        }
        assertThat(family.stats("acme").key("requests").available()).isEqualTo(6);
        assertThat(acme.stats().granted()).isEqualTo(1);
        assertThat(acme.tryAcquire(Request.of("requests", 7))).isEmpty();
        assertThat(grantsNow(family, "acme", ONE, 20)).isEqualTo(6);
        assertThat(refusal(acme.attempt(ONE)).grantableIn()).contains(Duration.ofMillis(100));
    }

    @Test
    @DisplayName("L15/L24 stats of a key never used: its limits full, every counter 0, nothing created")
    void L24_stats_of_an_unused_key_creates_nothing() {
        KeyedLimits<String> family = customers();
        LimitStats stats = family.stats("nobody");
        assertThat(stats.key("requests").available()).isEqualTo(10);
        assertThat(stats.key("jobs").inUse()).isZero();
        assertThat(stats.granted()).isZero();
        assertThat(family.keyedStats().keys()).isZero();
        assertThat(family.keyedStats().created()).isZero();
    }

    @Test
    @DisplayName("L24 close fails the waiters of every key, refuses new acquisitions; held ones still close")
    void L24_close_fails_waiters_and_refuses_new_acquisitions() {
        KeyedLimits<String> family = customers();
        Acquisition held = family.tryAcquire("acme", Request.of("jobs", 2)).orElseThrow();
        CompletableFuture<Acquisition> waiter = family.acquireAsync("acme", Request.of("jobs", 1));
        family.close();
        assertThat(failureOf(waiter)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> family.tryAcquire("acme", ONE)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
        assertThatThrownBy(() -> family.tryAcquire("new", ONE)).isInstanceOf(IllegalStateException.class);
        held.close();
    }
}
