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
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** SPEC L4 (invalid specs), L9 (what a request takes) and L10 (requests rejected at once). */
public abstract class RequestTck extends BackendTck {

    private LimitSet llmSet() {
        return set(RateLimit.of("tokens", 100, Duration.ofSeconds(1)),
                ResourceLimit.of("db_conn", 2),
                CallLimit.of(10, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET));
    }

    // ---- L4 ----------------------------------------------------------------------------------

    @Test
    @DisplayName("L4 a blank key is refused, naming the key")
    void L4_blank_key_is_refused() {
        assertThatThrownBy(() -> RateLimit.of(" ", 1, Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("key").hasMessageContaining("' '");
        assertThatThrownBy(() -> ResourceLimit.of("", 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("key");
        assertThatThrownBy(() -> RateLimit.of(null, 1, Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("key");
    }

    @Test
    @DisplayName("L4 a capacity <= 0, NaN or infinite is refused, naming the field and value")
    void L4_bad_capacity_is_refused() {
        for (double bad : new double[] {0, -1, Double.NaN, Double.POSITIVE_INFINITY}) {
            assertThatThrownBy(() -> RateLimit.of("tokens", bad, Duration.ofSeconds(1)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("capacity").hasMessageContaining("tokens")
                    .hasMessageContaining(String.valueOf(bad));
            assertThatThrownBy(() -> CallLimit.of(bad, Duration.ofSeconds(1)))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("capacity").hasMessageContaining(String.valueOf(bad));
        }
        assertThatThrownBy(() -> ResourceLimit.of("db_conn", 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("capacity")
                .hasMessageContaining("0");
    }

    @Test
    @DisplayName("L4 a window <= 0 is refused, naming the field and value")
    void L4_bad_window_is_refused() {
        assertThatThrownBy(() -> RateLimit.of("tokens", 1, Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("window")
                .hasMessageContaining("PT0S");
        assertThatThrownBy(() -> CallLimit.of(1, Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("window")
                .hasMessageContaining("PT-1S");
    }

    @Test
    @DisplayName("L4 a fractional ResourceLimit capacity is refused, naming the value")
    void L4_fractional_resource_capacity_is_refused() {
        assertThatThrownBy(() -> ResourceLimit.of("db_conn", 2.5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("capacity")
                .hasMessageContaining("2.5");
        assertThat(ResourceLimit.of("db_conn", 3.0).capacity()).isEqualTo(3);
    }

    @Test
    @DisplayName("L4 duplicate keys in one set are refused, naming the key")
    void L4_duplicate_keys_are_refused() {
        assertThatThrownBy(() -> set(RateLimit.of("tokens", 1, Duration.ofSeconds(1)), ResourceLimit.of("tokens", 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("duplicate")
                .hasMessageContaining("tokens");
        assertThatThrownBy(() -> set(CallLimit.of(1, Duration.ofSeconds(1)), CallLimit.of(2, Duration.ofSeconds(1))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(CallLimit.KEY);
    }

    // ---- L9 ----------------------------------------------------------------------------------

    @Test
    @DisplayName("L9 a request takes the keys it names plus one unit of every CallLimit it does not name")
    void L9_request_takes_named_keys_plus_one_call() {
        LimitSet set = llmSet();
        try (Acquisition acq = granted(set, Request.of("tokens", 30))) {
            assertThat(acq.granted()).containsExactlyInAnyOrderEntriesOf(Map.of("tokens", 30.0, CallLimit.KEY, 1.0));
            LimitStats stats = set.stats();
            assertThat(stats.key("tokens").inUse()).isEqualTo(30);
            assertThat(stats.key(CallLimit.KEY).inUse()).isEqualTo(1);
            assertThat(stats.key("db_conn").inUse()).isZero();
        }
        // Naming call_count overrides the implicit unit, 0 included.
        try (Acquisition acq = granted(set, Request.of("tokens", 1).and(CallLimit.KEY, 0))) {
            assertThat(acq.granted()).containsEntry(CallLimit.KEY, 0.0);
            assertThat(set.stats().key(CallLimit.KEY).inUse()).isEqualTo(1);
        }
    }

    @Test
    @DisplayName("L9 the empty request takes one unit of every CallLimit and every ResourceLimit")
    void L9_empty_request_takes_one_call_and_one_permit() {
        LimitSet set = set(ResourceLimit.of("db_conn", 2), CallLimit.of(10, Duration.ofSeconds(1)));
        try (Acquisition acq = set.acquire()) {
            assertThat(acq.granted()).containsExactlyInAnyOrderEntriesOf(Map.of("db_conn", 1.0, CallLimit.KEY, 1.0));
            assertThat(set.stats().key("db_conn").inUse()).isEqualTo(1);
            assertThat(set.stats().key(CallLimit.KEY).inUse()).isEqualTo(1);
        }
        assertThat(set.stats().key("db_conn").inUse()).isZero();
    }

    @Test
    @DisplayName("L9 the empty request is rejected by a set with a plain RateLimit (it needs an amount)")
    void L9_empty_request_rejected_with_plain_rate_limit() {
        LimitSet set = llmSet();
        assertRejectedEverywhere(set, Request.empty(), "tokens");
    }

    @Test
    @DisplayName("L9 nesting: inner acquisition of tokens inside an outer db_conn never takes a second connection")
    void L9_nested_acquisitions_do_not_deadlock() {
        LimitSet set = set(ResourceLimit.of("db_conn", 1), RateLimit.of("tokens", 100, Duration.ofSeconds(1)));
        Future<Boolean> nested = onAnotherThread(() -> {
            try (Acquisition outer = set.acquire(Request.of("db_conn", 1))) {
                try (Acquisition inner = set.acquire(Request.of("tokens", 10), Duration.ZERO)) {
                    return set.stats().key("db_conn").inUse() == 1 && outer.granted().containsKey("db_conn")
                            && !inner.granted().containsKey("db_conn");
                }
            }
        });
        assertThat(await(nested)).as("inner took tokens only; one connection held").isTrue();
        assertThat(set.stats().key("db_conn").inUse()).isZero();
    }

    // ---- L10 ---------------------------------------------------------------------------------

    @Test
    @DisplayName("L10 an unknown key is rejected by every way to acquire; the message lists the known keys")
    void L10_unknown_key_rejected() {
        LimitSet set = llmSet();
        assertRejectedEverywhere(set, Request.of("tokenz", 1), "tokenz", "tokens", "db_conn", CallLimit.KEY);
    }

    @Test
    @DisplayName("L10 an amount above the key's capacity is rejected by every way to acquire")
    void L10_amount_above_capacity_rejected() {
        LimitSet set = llmSet();
        assertRejectedEverywhere(set, Request.of("tokens", 100.5), "tokens", "100.5");
        assertRejectedEverywhere(set, Request.of("db_conn", 3), "db_conn");
        assertRejectedEverywhere(set, Request.of("tokens", 1).and(CallLimit.KEY, 11), CallLimit.KEY);
    }

    @Test
    @DisplayName("L10 a fractional amount of a ResourceLimit is rejected by every way to acquire")
    void L10_fractional_resource_amount_rejected() {
        LimitSet set = llmSet();
        assertRejectedEverywhere(set, Request.of("db_conn", 1.5), "db_conn", "1.5");
    }

    @Test
    @DisplayName("L10 a negative, NaN or infinite amount is rejected when the request is built")
    void L10_bad_amounts_rejected_at_request_construction() {
        for (double bad : new double[] {-1, -0.001, Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
            assertThatThrownBy(() -> Request.of("tokens", bad))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tokens")
                    .hasMessageContaining(String.valueOf(bad));
            assertThatThrownBy(() -> Request.of("db_conn", 1).and("tokens", bad))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tokens");
            assertThatThrownBy(() -> Request.of(Map.of("tokens", bad)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tokens");
        }
    }

    /**
     * {@code request} is rejected with an {@link IllegalArgumentException} whose message holds every
     * fragment, by acquire, acquire(timeout), tryAcquire and acquireAsync (a failed future), and nothing
     * is taken.
     */
    protected void assertRejectedEverywhere(LimitSet set, Request request, String... fragments) {
        LimitStats before = set.stats();
        assertThatThrownBy(() -> set.acquire(request))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContainingAll(fragments);
        assertThatThrownBy(() -> set.acquire(request, Duration.ofSeconds(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContainingAll(fragments);
        assertThatThrownBy(() -> set.tryAcquire(request))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContainingAll(fragments);
        CompletableFuture<Acquisition> future = set.acquireAsync(request);
        assertThat(failureOf(future)).isInstanceOf(IllegalArgumentException.class).hasMessageContainingAll(fragments);
        assertThat(set.stats()).as("nothing taken by rejected %s", request).isEqualTo(before);
    }
}
