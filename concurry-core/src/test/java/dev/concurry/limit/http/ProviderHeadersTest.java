package dev.concurry.limit.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.limit.ProviderReport;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/** SPEC F1, F4: every dialect read from real-looking header sets, and odd ones never throw. */
class ProviderHeadersTest {
    private static final Instant NOW = Instant.parse("2025-03-04T10:00:00Z");
    private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);

    /** Headers as {@code java.net.http.HttpHeaders.map()} gives them: lower-case names, lists of values. */
    private static Map<String, List<String>> headers(String... nameValues) {
        Map<String, List<String>> map = new LinkedHashMap<>();
        for (int i = 0; i < nameValues.length; i += 2) {
            map.computeIfAbsent(nameValues[i], n -> new java.util.ArrayList<>()).add(nameValues[i + 1]);
        }
        return map;
    }

    private static ProviderReport.Quota quota(ProviderReport report, String key) {
        return report.quota(key).orElseThrow(() -> new AssertionError("no quota for " + key + " in " + report));
    }

    @Nested
    class OpenAi {
        @Test
        @DisplayName("F1 OpenAI: limits, remaining and resets of requests and tokens (Go durations)")
        void reads_a_real_response() {
            ProviderReport report = ProviderHeaders.openAi(200, headers(
                    "x-ratelimit-limit-requests", "500",
                    "x-ratelimit-limit-tokens", "10000",
                    "x-ratelimit-remaining-requests", "499",
                    "x-ratelimit-remaining-tokens", "9800",
                    "x-ratelimit-reset-requests", "120ms",
                    "x-ratelimit-reset-tokens", "1.2s",
                    "content-type", "application/json"));
            assertThat(quota(report, "requests").limit()).hasValue(500);
            assertThat(quota(report, "requests").remaining()).hasValue(499);
            assertThat(quota(report, "requests").resetIn()).contains(Duration.ofMillis(120));
            assertThat(quota(report, "tokens").limit()).hasValue(10_000);
            assertThat(quota(report, "tokens").remaining()).hasValue(9_800);
            assertThat(quota(report, "tokens").resetIn()).contains(Duration.ofMillis(1_200));
            assertThat(report.refused()).isFalse();
            assertThat(report.retryAfter()).isEmpty();
            assertThat(report.unparsed()).isZero();
        }

        @Test
        @DisplayName("F1 OpenAI durations: 6m0s, 1h2m3.5s, 20ms, 500us, 1.5s, a bare number of seconds")
        void reads_go_durations() {
            ProviderReport report = ProviderHeaders.openAi(headers(
                    "x-ratelimit-reset-a", "6m0s",
                    "x-ratelimit-reset-b", "1h2m3.5s",
                    "x-ratelimit-reset-c", "20ms",
                    "x-ratelimit-reset-d", "500us",
                    "x-ratelimit-reset-e", "1.5s",
                    "x-ratelimit-reset-f", "7",
                    "x-ratelimit-reset-g", "0s"));
            assertThat(quota(report, "a").resetIn()).contains(Duration.ofMinutes(6));
            assertThat(quota(report, "b").resetIn()).contains(Duration.ofSeconds(3723, 500_000_000));
            assertThat(quota(report, "c").resetIn()).contains(Duration.ofMillis(20));
            assertThat(quota(report, "d").resetIn()).contains(Duration.ofNanos(500_000));
            assertThat(quota(report, "e").resetIn()).contains(Duration.ofMillis(1_500));
            assertThat(quota(report, "f").resetIn()).contains(Duration.ofSeconds(7));
            assertThat(quota(report, "g").resetIn()).contains(Duration.ZERO);
            assertThat(report.unparsed()).isZero();
        }

        @Test
        @DisplayName("F1 F3 OpenAI 429 with Retry-After: refused, paused for the keys it names")
        void reads_a_429() {
            ProviderReport report = ProviderHeaders.openAi(429, headers(
                    "x-ratelimit-remaining-tokens", "0",
                    "x-ratelimit-reset-tokens", "6m0s",
                    "retry-after", "20"));
            assertThat(report.refused()).isTrue();
            assertThat(report.retryAfter()).contains(Duration.ofSeconds(20));
            assertThat(report.pauses("tokens")).isTrue();
            assertThat(report.pauses("requests")).as("only the keys the response names").isFalse();
        }

        @Test
        @DisplayName("F3 retry-after-ms, when present, is more precise than Retry-After")
        void retry_after_ms() {
            ProviderReport report = ProviderHeaders.openAi(429, headers("retry-after", "1", "retry-after-ms", "350"));
            assertThat(report.retryAfter()).contains(Duration.ofMillis(350));
            ProviderReport bad = ProviderHeaders.openAi(429, headers("retry-after", "2", "retry-after-ms", "x"));
            assertThat(bad.retryAfter()).as("falls back to Retry-After").contains(Duration.ofSeconds(2));
            assertThat(bad.unparsed()).isEqualTo(1);
        }

        @Test
        @DisplayName("F1 names case-insensitively, single-valued maps, mapped to the set's keys")
        void any_map_shape_any_case_and_key_mapping() {
            Map<String, String> single = Map.of("X-RateLimit-Remaining-Tokens", "42", "X-RATELIMIT-RESET-TOKENS", "2s");
            ProviderReport report = ProviderHeaders.openAi().mapKey("tokens", "tpm").read(single);
            assertThat(quota(report, "tpm").remaining()).hasValue(42);
            assertThat(quota(report, "tpm").resetIn()).contains(Duration.ofSeconds(2));
            assertThat(report.quota("tokens")).isEmpty();
        }

        @Test
        @DisplayName("F4 odd values are ignored and counted, never thrown: negative, NaN, garbage, -1s, overflow")
        void odd_values() {
            ProviderReport report = ProviderHeaders.openAi(headers(
                    "x-ratelimit-remaining-requests", "-3",
                    "x-ratelimit-limit-requests", "NaN",
                    "x-ratelimit-remaining-tokens", "lots",
                    "x-ratelimit-reset-tokens", "-1s",
                    "x-ratelimit-reset-requests", "5 fortnights",
                    "x-ratelimit-limit-tokens", "1e400",
                    "retry-after", "soon"));
            assertThat(report.unparsed()).isEqualTo(7);
            assertThat(quota(report, "requests").remaining()).isEmpty();
            assertThat(quota(report, "tokens").limit()).isEmpty();
            assertThat(report.retryAfter()).isEmpty();
            assertThat(report.refused()).isFalse();
        }

        @Test
        @DisplayName("F1 huge values: a remaining count stands, a reset is cut to a week")
        void huge_values() {
            ProviderReport report = ProviderHeaders.openAi(headers(
                    "x-ratelimit-remaining-tokens", "1e30",
                    "x-ratelimit-reset-tokens", "99999999h",
                    "retry-after", "9999999999999"));
            assertThat(quota(report, "tokens").remaining()).hasValue(1e30);
            assertThat(quota(report, "tokens").resetIn()).contains(ProviderHeaders.LONGEST);
            assertThat(report.retryAfter()).contains(ProviderHeaders.LONGEST);
        }

        @Test
        @DisplayName("F1 missing fields: a limit alone, no headers at all")
        void missing_fields() {
            ProviderReport limitOnly = ProviderHeaders.openAi(headers("x-ratelimit-limit-tokens", "10000"));
            assertThat(quota(limitOnly, "tokens").remaining()).isEmpty();
            assertThat(quota(limitOnly, "tokens").resetIn()).isEmpty();
            ProviderReport nothing = ProviderHeaders.openAi(200, Map.of());
            assertThat(nothing.quotas()).isEmpty();
            assertThat(nothing.refused()).isFalse();
        }
    }

    @Nested
    class Anthropic {
        @Test
        @DisplayName("F1 Anthropic: four quotas, resets as RFC 3339 instants against the Date header")
        void reads_a_real_response() {
            ProviderReport report = ProviderHeaders.anthropic(200, headers(
                    "date", "Tue, 04 Mar 2025 10:00:00 GMT",
                    "anthropic-ratelimit-requests-limit", "50",
                    "anthropic-ratelimit-requests-remaining", "49",
                    "anthropic-ratelimit-requests-reset", "2025-03-04T10:00:01Z",
                    "anthropic-ratelimit-tokens-limit", "40000",
                    "anthropic-ratelimit-tokens-remaining", "39000",
                    "anthropic-ratelimit-tokens-reset", "2025-03-04T10:00:02.5Z",
                    "anthropic-ratelimit-input-tokens-limit", "30000",
                    "anthropic-ratelimit-input-tokens-remaining", "29500",
                    "anthropic-ratelimit-input-tokens-reset", "2025-03-04T11:00:03+01:00",
                    "anthropic-ratelimit-output-tokens-limit", "8000",
                    "anthropic-ratelimit-output-tokens-remaining", "7500",
                    "anthropic-ratelimit-output-tokens-reset", "2025-03-04T10:00:04Z"));
            assertThat(quota(report, "requests").resetIn()).contains(Duration.ofSeconds(1));
            assertThat(quota(report, "tokens").resetIn()).contains(Duration.ofMillis(2_500));
            assertThat(quota(report, "input-tokens").remaining()).hasValue(29_500);
            assertThat(quota(report, "input-tokens").resetIn()).as("offsets honoured").contains(Duration.ofSeconds(3));
            assertThat(quota(report, "output-tokens").limit()).hasValue(8_000);
            assertThat(report.unparsed()).isZero();
        }

        @Test
        @DisplayName("F1 clock skew: the Date header, not this host's clock, is the reference for instants")
        void date_header_removes_clock_skew() {
            // The provider's clock is an hour ahead of ours: without its Date the reset would be an hour away.
            ProviderReport skewed = ProviderHeaders.anthropic().clock(CLOCK).read(headers(
                    "date", "Tue, 04 Mar 2025 11:00:00 GMT",
                    "anthropic-ratelimit-tokens-reset", "2025-03-04T11:00:05Z"));
            assertThat(quota(skewed, "tokens").resetIn()).contains(Duration.ofSeconds(5));
            ProviderReport noDate = ProviderHeaders.anthropic().clock(CLOCK).read(headers(
                    "anthropic-ratelimit-tokens-reset", "2025-03-04T10:00:05Z"));
            assertThat(quota(noDate, "tokens").resetIn()).as("this host's clock").contains(Duration.ofSeconds(5));
            ProviderReport past = ProviderHeaders.anthropic().clock(CLOCK).read(headers(
                    "anthropic-ratelimit-tokens-reset", "2025-03-04T09:59:00Z"));
            assertThat(quota(past, "tokens").resetIn()).as("already reset").contains(Duration.ZERO);
        }

        @Test
        @DisplayName("F4 Anthropic odd values: a reset that is not an instant, a bad Date header")
        void odd_values() {
            ProviderReport report = ProviderHeaders.anthropic().clock(CLOCK).read(headers(
                    "date", "yesterday",
                    "anthropic-ratelimit-tokens-reset", "next tuesday",
                    "anthropic-ratelimit-requests-reset", "2025-03-04T10:00:09Z"));
            assertThat(quota(report, "tokens").resetIn()).isEmpty();
            assertThat(quota(report, "requests").resetIn()).as("falls back to this host's clock")
                    .contains(Duration.ofSeconds(9));
            assertThat(report.unparsed()).isEqualTo(2);
        }
    }

    @Nested
    class Ietf {
        @Test
        @DisplayName("F1 IETF RateLimit-Policy and RateLimit structured fields, several policies")
        void reads_structured_fields() {
            ProviderReport report = ProviderHeaders.ietf(200, headers(
                    "RateLimit-Policy", "\"requests\";q=100;w=60, \"tokens\";q=10000;w=60;qu=\"tokens\"",
                    "RateLimit", "\"requests\";r=42;t=21",
                    "RateLimit", "\"tokens\";r=9000;t=30"));
            assertThat(quota(report, "requests").limit()).hasValue(100);
            assertThat(quota(report, "requests").window()).contains(Duration.ofMinutes(1));
            assertThat(quota(report, "requests").remaining()).hasValue(42);
            assertThat(quota(report, "requests").resetIn()).contains(Duration.ofSeconds(21));
            assertThat(quota(report, "tokens").limit()).hasValue(10_000);
            assertThat(quota(report, "tokens").remaining()).hasValue(9_000);
            assertThat(quota(report, "tokens").resetIn()).contains(Duration.ofSeconds(30));
            assertThat(report.unparsed()).isZero();
        }

        @Test
        @DisplayName("F1 IETF older forms: RateLimit-Limit/-Remaining/-Reset and the RateLimit dictionary")
        void reads_older_forms() {
            ProviderReport separate = ProviderHeaders.ietf().mapKey(ProviderHeaders.DEFAULT_POLICY, "requests")
                    .read(headers("RateLimit-Limit", "100, 100;w=60", "RateLimit-Remaining", "7", "RateLimit-Reset",
                            "13"));
            assertThat(quota(separate, "requests").limit()).hasValue(100);
            assertThat(quota(separate, "requests").remaining()).hasValue(7);
            assertThat(quota(separate, "requests").resetIn()).contains(Duration.ofSeconds(13));
            ProviderReport dictionary = ProviderHeaders.ietf(headers("RateLimit", "limit=100, remaining=50, reset=30",
                    "RateLimit-Policy", "100;w=60"));
            ProviderReport.Quota q = quota(dictionary, ProviderHeaders.DEFAULT_POLICY);
            assertThat(q.limit()).hasValue(100);
            assertThat(q.remaining()).hasValue(50);
            assertThat(q.resetIn()).contains(Duration.ofSeconds(30));
            assertThat(q.window()).contains(Duration.ofMinutes(1));
        }

        @Test
        @DisplayName("F1 F3 IETF 503 with an HTTP-date Retry-After, relative to the Date header")
        void retry_after_http_date() {
            ProviderReport report = ProviderHeaders.ietf(503, headers(
                    "Date", "Tue, 04 Mar 2025 10:00:00 GMT",
                    "Retry-After", "Tue, 04 Mar 2025 10:01:30 GMT",
                    "RateLimit", "\"default\";r=0;t=90"));
            assertThat(report.refused()).isTrue();
            assertThat(report.retryAfter()).contains(Duration.ofSeconds(90));
        }

        @Test
        @DisplayName("F4 IETF odd values: a policy without a quota, a remaining that is not a number, quoted commas")
        void odd_values() {
            ProviderReport report = ProviderHeaders.ietf(headers(
                    "RateLimit-Policy", "\"a,b\";q=5;w=1, \"broken\"",
                    "RateLimit", "\"a,b\";r=x;t=1"));
            assertThat(quota(report, "a,b").limit()).hasValue(5);
            assertThat(quota(report, "a,b").remaining()).isEmpty();
            assertThat(quota(report, "a,b").resetIn()).contains(Duration.ofSeconds(1));
            assertThat(report.unparsed()).isEqualTo(2);
        }

        @Test
        @DisplayName("F4 IETF a policy with an empty name is ignored and counted, never thrown")
        void empty_policy_name() {
            ProviderReport report = ProviderHeaders.ietf(headers("RateLimit", "\"\";r=1;t=1, \"ok\";r=2;t=1"));
            assertThat(report.quotas()).containsOnlyKeys("ok");
            assertThat(report.unparsed()).isEqualTo(1);
        }
    }

    @Nested
    class GitHub {
        @Test
        @DisplayName("F1 GitHub: limit, remaining, used, reset in epoch seconds (relative to the Date header)")
        void reads_a_real_response() {
            ProviderReport report = ProviderHeaders.github(200, headers(
                    "Date", "Tue, 04 Mar 2025 10:00:00 GMT",
                    "x-ratelimit-limit", "5000",
                    "x-ratelimit-remaining", "4987",
                    "x-ratelimit-used", "13",
                    "x-ratelimit-reset", String.valueOf(NOW.getEpochSecond() + 1800),
                    "x-ratelimit-resource", "core"));
            assertThat(quota(report, "requests").limit()).hasValue(5_000);
            assertThat(quota(report, "requests").remaining()).hasValue(4_987);
            assertThat(quota(report, "requests").resetIn()).contains(Duration.ofMinutes(30));
        }

        @Test
        @DisplayName("F1 GitHub: remaining derived from limit and used when missing; 403 is not a refusal by itself")
        void remaining_from_used() {
            ProviderReport report = ProviderHeaders.github().clock(CLOCK).read(403, headers(
                    "x-ratelimit-limit", "60", "x-ratelimit-used", "60",
                    "x-ratelimit-reset", String.valueOf(NOW.getEpochSecond() + 60)));
            assertThat(quota(report, "requests").remaining()).hasValue(0);
            assertThat(quota(report, "requests").resetIn()).contains(Duration.ofMinutes(1));
            assertThat(report.refused()).isFalse();
        }
    }

    @Nested
    class RetryAfter {
        @Test
        @DisplayName("F3 Retry-After alone: seconds, with status unknown it is a refusal pausing every rate limit")
        void seconds() {
            ProviderReport report = ProviderHeaders.retryAfter(Map.of("Retry-After", "3"));
            assertThat(report.refused()).isTrue();
            assertThat(report.retryAfter()).contains(Duration.ofSeconds(3));
            assertThat(report.pauseKeys()).isEmpty();
            assertThat(report.pauses("anything")).isTrue();
        }

        @Test
        @DisplayName("F3 Retry-After on a 200 is not a pause; pauseKeys chooses the keys a pause applies to")
        void status_and_keys() {
            assertThat(ProviderHeaders.retryAfter(200, Map.of("Retry-After", "3")).retryAfter()).isEmpty();
            ProviderReport report = ProviderHeaders.retryAfter().pauseKeys("tokens").read(429,
                    Map.of("retry-after", "1"));
            assertThat(report.pauses("tokens")).isTrue();
            assertThat(report.pauses("requests")).isFalse();
            assertThat(ProviderHeaders.retryAfter(429, Map.of()).refused()).as("a 429 without a time").isTrue();
        }

        @Test
        @DisplayName("F3 Retry-After as an HTTP date without a Date header: this host's clock")
        void http_date() {
            ProviderReport report = ProviderHeaders.retryAfter().clock(CLOCK)
                    .read(429, Map.of("Retry-After", "Tue, 04 Mar 2025 10:00:42 GMT"));
            assertThat(report.retryAfter()).isEqualTo(Optional.of(Duration.ofSeconds(42)));
        }
    }
}
