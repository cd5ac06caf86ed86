package dev.concurry.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.AcquireTimeoutException;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.LimitStats;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.time.Duration;
import java.util.concurrent.Future;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SPEC L15: every counter of {@link LimitStats}, exact, the same on every backend (the engine keeps
 * them; a backend cannot report less). Times are exact on the manual clock.
 */
public abstract class StatisticsTck extends BackendTck {
    private static final Request ONE_TOKEN = Request.of("tokens", 1);

    /** 10 tokens per second (a token every 100 ms) and 2 connections. */
    private LimitSet set() {
        return set(RateLimit.of("tokens", 10, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET),
                ResourceLimit.of("conn", 2));
    }

    @Test
    @DisplayName("L15 grants and refused tries are counted exactly; a refusal waits for nothing")
    void L15_grants_and_rejections() {
        LimitSet set = set();
        for (int i = 0; i < 10; i++) {
            granted(set, ONE_TOKEN);
        }
        refused(set, ONE_TOKEN);
        refused(set, Request.of("tokens", 1).and("conn", 1));
        LimitStats stats = set.stats();
        assertThat(stats.granted()).isEqualTo(10);
        assertThat(stats.rejected()).isEqualTo(2);
        assertThat(stats.timedOut()).isZero();
        assertThat(stats.waits()).isZero();
        assertThat(stats.waitedNanos()).isZero();
        assertThat(stats.waiting()).isZero();
    }

    @Test
    @DisplayName("L15 acquire with a zero timeout that cannot be granted counts a timeout, not a rejection")
    void L15_zero_timeout_counts_a_timeout() {
        LimitSet set = set();
        set.acquire(Request.of("tokens", 10)).close();
        assertThatThrownBy(() -> set.acquire(ONE_TOKEN, Duration.ZERO)).isInstanceOf(AcquireTimeoutException.class);
        LimitStats stats = set.stats();
        assertThat(stats.timedOut()).isEqualTo(1);
        assertThat(stats.rejected()).isZero();
        assertThat(stats.granted()).isEqualTo(1);
    }

    @ParameterizedTest
    @EnumSource(WaitMode.class)
    @DisplayName("L15 a waiter is counted while it waits, per key, and its wait is measured exactly")
    void L15_waits_are_counted_and_measured(WaitMode mode) {
        LimitSet set = set();
        set.acquire(Request.of("tokens", 10)).close();           // empty: the next token comes at 100 ms
        advanceTo(40 * MS);
        Future<Acquisition> waiter = waiter(set, ONE_TOKEN, mode);
        LimitStats waiting = set.stats();
        assertThat(waiting.waiting()).isEqualTo(1);
        assertThat(waiting.key("tokens").waiting()).isEqualTo(1);
        assertThat(waiting.key("conn").waiting()).isZero();
        advanceTo(100 * MS);
        await(waiter).close();
        LimitStats stats = set.stats();
        assertThat(stats.waiting()).isZero();
        assertThat(stats.key("tokens").waiting()).isZero();
        assertThat(stats.waits()).as("one acquisition had to wait").isEqualTo(1);
        assertThat(stats.waitedNanos()).as("from 40 ms to 100 ms").isEqualTo(60 * MS);
        assertThat(stats.granted()).isEqualTo(2);
    }

    @Test
    @DisplayName("L15 a waiter that times out is counted once and leaves no waiter behind")
    void L15_timeouts_are_counted() throws Exception {
        LimitSet set = set();
        Acquisition a = granted(set, Request.of("conn", 2));
        Future<Acquisition> waiter = onAnotherThread(() -> set.acquire(Request.of("conn", 1), Duration.ofMillis(50)));
        awaitWaiting(set, 1);
        advanceTo(50 * MS);
        assertThat(failureOf(waiter)).isInstanceOf(AcquireTimeoutException.class);
        LimitStats stats = set.stats();
        assertThat(stats.timedOut()).isEqualTo(1);
        assertThat(stats.waiting()).isZero();
        assertThat(stats.waits()).isZero();
        assertThat(stats.rejected()).isZero();
        a.close();
    }

    @Test
    @DisplayName("L15 refunds and charges are counted in total and per key")
    void L15_refunds_and_charges_per_key() {
        LimitSet set = set(RateLimit.of("tokens", 1000, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET),
                RateLimit.of("requests", 100, Duration.ofSeconds(1)), ResourceLimit.of("conn", 2));
        granted(set, Request.of("tokens", 100).and("requests", 1).and("conn", 1)).update("tokens", 30).close();
        granted(set, Request.of("tokens", 100)).update("tokens", 150).close();
        granted(set, Request.of("tokens", 10).and("requests", 2)).update("requests", 1).close();
        granted(set, Request.of("tokens", 10)).update("tokens", 10).close();      // as requested: nothing to settle
        LimitStats stats = set.stats();
        assertThat(stats.refunded()).isEqualTo(70 + 1);
        assertThat(stats.charged()).isEqualTo(50);
        assertThat(stats.key("tokens").refunded()).isEqualTo(70);
        assertThat(stats.key("tokens").charged()).isEqualTo(50);
        assertThat(stats.key("requests").refunded()).isEqualTo(1);
        assertThat(stats.key("requests").charged()).isZero();
        assertThat(stats.key("conn").refunded()).isZero();
        assertThat(stats.key("conn").charged()).isZero();
        assertThat(stats.key("conn").inUse()).isZero();
        assertThat(stats.key("tokens").inUse()).isEqualTo(30 + 150 + 10 + 10);
        assertThat(stats.granted()).isEqualTo(4);
    }

    @Test
    @DisplayName("L15 an async waiter cancelled, and a blocking waiter interrupted, are neither granted nor timed out")
    void L15_withdrawn_waiters_are_not_counted_as_grants_or_timeouts() throws Exception {
        LimitSet set = set();
        Acquisition all = granted(set, Request.of("conn", 2));
        var async = set.acquireAsync(Request.of("conn", 1));
        awaitWaiting(set, 1);
        async.cancel(false);
        awaitWaiting(set, 0);
        Future<Acquisition> blocking = onAnotherThread(() -> set.acquire(Request.of("conn", 1)));
        awaitWaiting(set, 1);
        blocking.cancel(true);
        awaitWaiting(set, 0);
        all.close();
        LimitStats stats = set.stats();
        assertThat(stats.granted()).isEqualTo(1);
        assertThat(stats.timedOut()).isZero();
        assertThat(stats.waits()).isZero();
        assertThat(stats.key("conn").inUse()).as("nothing left taken").isZero();
    }
}
