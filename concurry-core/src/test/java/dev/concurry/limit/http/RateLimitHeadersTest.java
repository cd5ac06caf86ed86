package dev.concurry.limit.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Attempt;
import dev.concurry.limit.Backends;
import dev.concurry.limit.CallLimit;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.ProviderReport;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Refusal;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.time.ManualClock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** SPEC L25: the server-side fields, exact on a manual clock, read back identically by the F1 parser. */
class RateLimitHeadersTest {
    private final ManualClock clock = new ManualClock();

    private LimitSet set() {
        return LimitSet.builder()
                .add(RateLimit.of("tokens", 100, Duration.ofMinutes(1)))
                .add(RateLimit.of("requests", 10, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET))
                .add(ResourceLimit.of("conn", 2))
                .backend(Backends.inMemory(clock)).build();
    }

    private static void assertQuota(ProviderReport report, String key, double limit, Duration window, double remaining,
            Duration reset) {
        ProviderReport.Quota q = report.quota(key).orElseThrow();
        assertThat(q.limit()).as(key + " limit").hasValue(limit);
        assertThat(q.window()).as(key + " window").contains(window);
        assertThat(q.remaining()).as(key + " remaining").hasValue(remaining);
        assertThat(q.resetIn()).as(key + " reset").contains(reset);
    }

    @Test
    @DisplayName("L25 a grant: policy and remaining per rate limit taken, no resource limit, read back identically")
    void grant_fields_read_back_identically() {
        LimitSet set = set();
        try (Acquisition acq = set.acquire(Request.of("tokens", 30).and("requests", 1).and("conn", 1))) {
            Map<String, String> headers = RateLimitHeaders.granted(set, acq);
            assertThat(headers).containsExactly(
                    Map.entry("RateLimit-Policy", "\"tokens\";q=100;w=60, \"requests\";q=10;w=1"),
                    Map.entry("RateLimit", "\"tokens\";r=70;t=60, \"requests\";r=9;t=1"));
            ProviderReport report = ProviderHeaders.ietf(200, headers);
            assertQuota(report, "tokens", 100, Duration.ofMinutes(1), 70, Duration.ofMinutes(1));
            assertQuota(report, "requests", 10, Duration.ofSeconds(1), 9, Duration.ofSeconds(1));
            assertThat(report.quota("conn")).isEmpty();
            assertThat(report.unparsed()).isZero();
            assertThat(report.refused()).isFalse();
        }
    }

    @Test
    @DisplayName("L25 a refusal: Retry-After in whole seconds (rounded up), what the short key had, read back identically")
    void refusal_fields_read_back_identically() {
        LimitSet set = set();
        set.acquire(Request.of("tokens", 95)).close();
        clock.advance(Duration.ofMillis(12_300));
        Refusal refusal = ((Attempt.Refused) set.attempt(Request.of("tokens", 10).and("requests", 1))).refusal();
        assertThat(refusal.grantableIn()).contains(Duration.ofMillis(47_700));
        Map<String, String> headers = RateLimitHeaders.refused(set, refusal);
        assertThat(headers).containsEntry("Retry-After", "48")
                .containsEntry("RateLimit", "\"tokens\";r=5;t=60, \"requests\";r=10;t=1");
        ProviderReport report = ProviderHeaders.ietf(429, headers);
        assertThat(report.refused()).isTrue();
        assertThat(report.retryAfter()).contains(Duration.ofSeconds(48));
        assertQuota(report, "tokens", 100, Duration.ofMinutes(1), 5, Duration.ofMinutes(1));
        assertQuota(report, "requests", 10, Duration.ofSeconds(1), 10, Duration.ofSeconds(1));
    }

    @Test
    @DisplayName("L25 a refusal only a release can end has no Retry-After; call limits are always listed")
    void resource_refusal_has_no_retry_after() {
        LimitSet set = LimitSet.builder().add(ResourceLimit.of("conn", 1)).add(CallLimit.of(50, Duration.ofSeconds(10)))
                .backend(Backends.inMemory(clock)).build();
        Acquisition held = set.acquire(Request.of("conn", 1));
        Refusal refusal = ((Attempt.Refused) set.attempt(Request.of("conn", 1))).refusal();
        Map<String, String> headers = RateLimitHeaders.refused(set, refusal);
        assertThat(headers).doesNotContainKey("Retry-After")
                .containsEntry("RateLimit", "\"call_count\";r=49;t=10");
        held.close();
    }

    @Test
    @DisplayName("L25 fractional capacities and sub-second windows as decimals; keys with quotes escaped")
    void decimals_and_escaped_names() {
        LimitSet set = LimitSet.builder()
                .add(RateLimit.of("dollars \"usd\"", 2.5, Duration.ofMillis(100)))
                .backend(Backends.inMemory(clock)).build();
        try (Acquisition acq = set.acquire(Request.of("dollars \"usd\"", 0.0015))) {
            Map<String, String> headers = RateLimitHeaders.granted(set, acq);
            assertThat(headers.get("RateLimit-Policy")).isEqualTo("\"dollars \\\"usd\\\"\";q=2.5;w=0.1");
            assertThat(headers.get("RateLimit")).isEqualTo("\"dollars \\\"usd\\\"\";r=2.498;t=0.1");
            assertQuota(ProviderHeaders.ietf(headers), "dollars \"usd\"", 2.5, Duration.ofMillis(100), 2.498,
                    Duration.ofMillis(100));
        }
    }
}
