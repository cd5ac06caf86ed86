package dev.concurry.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.CallLimit;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.LimitStats;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** SPEC L13 (the acquisition handle), L14 (the empty set), L15 (stats) and closing a set. */
public abstract class AcquisitionTck extends BackendTck {
    private static final Request CONN = Request.of("db_conn", 1);

    private LimitSet llmSet() {
        return set(RateLimit.of("tokens", 100, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET),
                RateLimit.of("requests", 10, Duration.ofSeconds(1)),
                ResourceLimit.of("db_conn", 2));
    }

    // ---- L13 ---------------------------------------------------------------------------------

    @Test
    @DisplayName("L13 update may be called several times: the last value wins")
    void L13_last_update_wins() {
        LimitSet set = llmSet();
        try (Acquisition acq = granted(set, Request.of("tokens", 50).and("requests", 1))) {
            acq.update("tokens", 80);
            acq.update(Map.of("tokens", 10));
            acq.update("tokens", 30);
        }
        assertThat(set.stats().key("tokens").inUse()).isEqualTo(30);
        assertThat(set.stats().key("requests").inUse()).as("never updated: the request stands").isEqualTo(1);
        assertThat(set.stats().refunded()).isEqualTo(20);
    }

    @Test
    @DisplayName("L13 update of an unknown, not-acquired or resource key, or a negative amount: IllegalArgumentException")
    void L13_bad_updates_are_rejected() {
        LimitSet set = llmSet();
        try (Acquisition acq = granted(set, Request.of("tokens", 50).and("db_conn", 1))) {
            assertThatThrownBy(() -> acq.update("nope", 1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("nope");
            assertThatThrownBy(() -> acq.update("requests", 1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("requests");
            assertThatThrownBy(() -> acq.update("db_conn", 1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("db_conn");
            assertThatThrownBy(() -> acq.update("tokens", -1)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("tokens");
            assertThatThrownBy(() -> acq.update("tokens", Double.NaN)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> acq.update("tokens", Double.POSITIVE_INFINITY))
                    .isInstanceOf(IllegalArgumentException.class);
            // A map update is checked whole before any of it applies.
            Map<String, Number> mixed = new HashMap<>();
            mixed.put("tokens", 5);
            mixed.put("nope", 1);
            assertThatThrownBy(() -> acq.update(mixed)).isInstanceOf(IllegalArgumentException.class);
        }
        assertThat(set.stats().key("tokens").inUse()).as("no rejected update applied").isEqualTo(50);
        assertThat(set.stats().key("db_conn").inUse()).isZero();
    }

    @Test
    @DisplayName("L13 update after close: IllegalStateException")
    void L13_update_after_close_is_illegal_state() {
        LimitSet set = llmSet();
        Acquisition acq = granted(set, Request.of("tokens", 50));
        acq.close();
        assertThatThrownBy(() -> acq.update("tokens", 10)).isInstanceOf(IllegalStateException.class);
        assertThat(set.stats().key("tokens").inUse()).isEqualTo(50);
    }

    @ParameterizedTest
    @EnumSource(RateAlgorithm.class)
    @DisplayName("L13 close settles every algorithm: refund below the request, charge above it")
    void L13_close_settles_refund_and_charge_in_every_algorithm(RateAlgorithm algorithm) {
        LimitSet refunding = set(RateLimit.of("tokens", 100, Duration.ofSeconds(1), algorithm));
        try (Acquisition acq = granted(refunding, Request.of("tokens", 40))) {
            acq.update("tokens", 10);
        }
        assertThat(refunding.stats().key("tokens").inUse()).as("%s refund of 30", algorithm).isEqualTo(10);
        assertThat(refunding.stats().refunded()).isEqualTo(30);
        LimitSet charging = set(RateLimit.of("tokens", 100, Duration.ofSeconds(1), algorithm));
        try (Acquisition acq = granted(charging, Request.of("tokens", 20))) {
            acq.update("tokens", 50);
        }
        assertThat(charging.stats().key("tokens").inUse()).as("%s charge of 30", algorithm).isEqualTo(50);
        assertThat(charging.stats().charged()).isEqualTo(30);
        assertThat(charging.stats().granted()).isEqualTo(1);
    }

    @Test
    @DisplayName("L13 close is idempotent: a second close releases nothing more")
    void L13_close_is_idempotent() {
        LimitSet set = llmSet();
        Acquisition first = granted(set, CONN);
        Acquisition second = granted(set, CONN);
        first.close();
        first.close();
        assertThat(set.stats().key("db_conn").inUse()).isEqualTo(1);
        refused(set, Request.of("db_conn", 2));
        second.close();
        assertThat(set.stats().key("db_conn").inUse()).isZero();
    }

    @Test
    @DisplayName("L13 an exception in the try block still releases permits; the user's exception is the one seen")
    void L13_exception_in_block_releases_permits() {
        LimitSet set = llmSet();
        class UserFailure extends RuntimeException {
            private static final long serialVersionUID = 1L;
        }
        assertThatThrownBy(() -> {
            try (Acquisition acq = set.acquire(CONN.and("tokens", 10))) {
                acq.update("tokens", 5);
                throw new UserFailure();
            }
        }).isInstanceOf(UserFailure.class).hasNoSuppressedExceptions();
        assertThat(set.stats().key("db_conn").inUse()).isZero();
        assertThat(set.stats().key("tokens").inUse()).isEqualTo(5);
    }

    @Test
    @DisplayName("L13 a failed tryAcquire releases nothing")
    void L13_failed_try_acquire_releases_nothing() {
        LimitSet set = llmSet();
        Acquisition held = granted(set, Request.of("db_conn", 2).and("tokens", 10));
        LimitStats before = set.stats();
        refused(set, CONN.and("tokens", 1));
        LimitStats after = set.stats();
        assertThat(withoutRejections(after)).isEqualTo(withoutRejections(before));
        assertThat(after.rejected()).as("counted as one rejection").isEqualTo(before.rejected() + 1);
        held.close();
    }

    @Test
    @DisplayName("L13 config() returns the set's config, immutable")
    void L13_config_is_the_sets_config_and_immutable() {
        Map<String, String> source = new HashMap<>(Map.of("region", "us-east-1"));
        LimitSet set = LimitSet.builder().add(ResourceLimit.of("db_conn", 1)).config(source).backend(backend(clock))
                .build();
        try (set) {
            source.put("region", "changed");
            assertThat(set.config()).containsExactlyEntriesOf(Map.of("region", "us-east-1"));
            try (Acquisition acq = set.acquire(CONN)) {
                assertThat(acq.config()).isEqualTo(Map.of("region", "us-east-1"));
                assertThatThrownBy(() -> acq.config().put("region", "x"))
                        .isInstanceOf(UnsupportedOperationException.class);
            }
            assertThatThrownBy(() -> set.config().put("region", "x")).isInstanceOf(UnsupportedOperationException.class);
        }
    }

    @Test
    @DisplayName("L13 a usage over a million times the key's capacity is rejected, saying why; nothing changes")
    void L13_absurd_usage_is_rejected() {
        LimitSet set = llmSet();
        try (Acquisition acq = granted(set, Request.of("tokens", 10))) {
            acq.update("tokens", 1e8);                                  // a million times capacity: allowed
            assertThatThrownBy(() -> acq.update("tokens", 1e16))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("tokens").hasMessageContaining("capacity");
            acq.update("tokens", 10);                                   // the last valid value wins
        }
        assertThat(set.stats().key("tokens").inUse()).isEqualTo(10);
    }

    @Test
    @DisplayName("L12 E1 a debt of a million windows leaves other keys' wake-ups exact (no overflow)")
    void L12_a_huge_debt_does_not_stop_wake_ups_of_other_keys() {
        // A yearly budget charged a million times over: in debt for a million years, past any long.
        LimitSet set = set(RateLimit.of("budget", 10, Duration.ofDays(365), RateAlgorithm.TOKEN_BUCKET),
                RateLimit.of("requests", 10, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET));
        granted(set, Request.of("budget", 1)).update("budget", 1e7).close();
        Future<Acquisition> budget = waiter(set, Request.of("budget", 1), WaitMode.ASYNC);
        for (int i = 0; i < 10; i++) {
            granted(set, Request.of("requests", 1));
        }
        // The next request refills at 100 ms, whatever the budget's debt.
        assertGrantedExactlyAt(set, Request.of("requests", 1), 100 * MS, WaitMode.BLOCKING).close();
        assertThat(budget).isNotDone();
        budget.cancel(true);
    }

    // ---- L14 ---------------------------------------------------------------------------------

    @Test
    @DisplayName("L14 an empty set grants everything at once and ignores keys")
    void L14_empty_set_grants_everything() {
        for (LimitSet empty : new LimitSet[] {LimitSet.builder().backend(backend(clock)).build(), LimitSet.empty()}) {
            Request anything = Request.of("whatever", 1e12).and("db_conn", 0.5);
            try (Acquisition acq = empty.acquire(anything)) {
                acq.update("whatever", 5).update("unknown", 7);
            }
            empty.acquire().close();
            empty.acquire(anything, Duration.ZERO).close();
            assertThat(empty.tryAcquire(anything)).isPresent();
            assertThat(empty.acquireAsync(anything)).isCompleted();
            assertThat(empty.stats().keys()).isEmpty();
            assertThat(empty.stats().waiting()).isZero();
            assertThat(empty.limits()).isEmpty();
        }
    }

    // ---- L15 ---------------------------------------------------------------------------------

    @Test
    @DisplayName("L15 stats report capacity, available, in use and waiting per key, and the totals")
    void L15_stats_per_key_and_totals() {
        LimitSet set = set(RateLimit.of("tokens", 100, Duration.ofSeconds(1)),
                ResourceLimit.of("db_conn", 3), CallLimit.of(10, Duration.ofSeconds(1)));
        Acquisition acq = granted(set, Request.of("tokens", 30).and("db_conn", 2));
        LimitStats stats = set.stats();
        assertThat(stats.key("tokens").capacity()).isEqualTo(100);
        assertThat(stats.key("tokens").available()).isEqualTo(70);
        assertThat(stats.key("tokens").inUse()).isEqualTo(30);
        assertThat(stats.key("db_conn").capacity()).isEqualTo(3);
        assertThat(stats.key("db_conn").available()).isEqualTo(1);
        assertThat(stats.key("db_conn").inUse()).isEqualTo(2);
        assertThat(stats.key(CallLimit.KEY).inUse()).isEqualTo(1);
        assertThat(stats.granted()).isEqualTo(1);
        assertThat(stats.keys().keySet()).containsExactly("tokens", "db_conn", CallLimit.KEY);
        assertThatThrownBy(() -> stats.key("nope")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tokens");

        Future<Acquisition> waiter = blockingAcquire(set, Request.of("db_conn", 2));
        LimitStats waiting = set.stats();
        assertThat(waiting.waiting()).isEqualTo(1);
        assertThat(waiting.key("db_conn").waiting()).isEqualTo(1);
        assertThat(waiting.key("tokens").waiting()).isZero();
        assertThat(set.stats()).as("stats() has no side effect").isEqualTo(waiting);

        acq.update("tokens", 10);
        acq.close();
        await(waiter).close();
        try (Acquisition over = granted(set, Request.of("tokens", 5))) {
            over.update("tokens", 12);
        }
        assertThatThrownBy(() -> set.acquire(Request.of("db_conn", 3).and("tokens", 90), Duration.ZERO))
                .isInstanceOf(dev.concurry.limit.AcquireTimeoutException.class);
        LimitStats end = set.stats();
        assertThat(end.granted()).isEqualTo(3);
        assertThat(end.refunded()).isEqualTo(20);
        assertThat(end.charged()).isEqualTo(7);
        assertThat(end.timedOut()).isEqualTo(1);
        assertThat(end.waiting()).isZero();
        assertThat(end.key("tokens").inUse()).isEqualTo(22);
        assertThat(end.key("db_conn").inUse()).isZero();
        assertThat(set.stats()).isEqualTo(end);
    }

    // ---- closing a set -----------------------------------------------------------------------

    @Test
    @DisplayName("LimitSet.close fails waiters with IllegalStateException and refuses later acquisitions")
    void close_fails_waiters_and_refuses_new_acquisitions() {
        LimitSet set = llmSet();
        Acquisition held = granted(set, Request.of("db_conn", 2));
        Future<Acquisition> blocked = blockingAcquire(set, CONN);
        CompletableFuture<Acquisition> async = asyncAcquire(set, CONN);
        set.close();
        assertThat(failureOf(blocked)).isInstanceOf(IllegalStateException.class);
        assertThat(failureOf(async)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> set.acquire(CONN)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> set.acquire(CONN, Duration.ofSeconds(1))).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> set.tryAcquire(CONN)).isInstanceOf(IllegalStateException.class);
        assertThat(failureOf(set.acquireAsync(CONN))).isInstanceOf(IllegalStateException.class);
        held.close();       // an acquisition granted before still closes quietly
        set.close();        // and closing again does nothing
    }

    /** {@code stats} with the rejection count zeroed: a refusal takes nothing, but it is counted (P2). */
    private static LimitStats withoutRejections(LimitStats stats) {
        return new LimitStats(stats.keys(), stats.granted(), stats.refunded(), stats.charged(), stats.timedOut(),
                stats.waiting(), 0, stats.waits(), stats.waitedNanos(), stats.provider());
    }
}
