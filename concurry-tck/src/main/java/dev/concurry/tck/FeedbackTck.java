package dev.concurry.tck;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Attempt;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.LimitStats;
import dev.concurry.limit.ProviderFeedback;
import dev.concurry.limit.ProviderReport;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Refusal;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.time.Duration;
import java.util.concurrent.Future;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SPEC F2–F4: what a provider reports changes what the set grants, exactly on the manual clock, on
 * every backend (the budget and the pause live in the store's state, so every process sharing it
 * honours them). Every set here has 100 tokens per second and 10 requests per second.
 */
public abstract class FeedbackTck extends BackendTck {
    private static final Request ONE = Request.of("tokens", 1);

    private LimitSet set(RateAlgorithm algorithm) {
        return set(RateLimit.of("tokens", 100, Duration.ofSeconds(1), algorithm),
                RateLimit.of("requests", 10, Duration.ofSeconds(1), algorithm),
                ResourceLimit.of("conn", 2));
    }

    private LimitSet set() {
        return set(RateAlgorithm.SLIDING_WINDOW);
    }

    private static ProviderReport remaining(String key, double remaining, Duration resetIn) {
        return ProviderReport.builder().remaining(key, remaining, resetIn).build();
    }

    private static Refusal refusal(Attempt attempt) {
        assertThat(attempt).isInstanceOf(Attempt.Refused.class);
        return ((Attempt.Refused) attempt).refusal();
    }

    @ParameterizedTest
    @EnumSource(value = RateAlgorithm.class, names = "LEAKY_BUCKET", mode = EnumSource.Mode.EXCLUDE)
    @DisplayName("F2 remaining R with reset T: at most R more units until T, then the configured limit alone")
    void F2_remaining_caps_grants_until_the_reset(RateAlgorithm algorithm) {
        LimitSet set = set(algorithm);
        granted(set, Request.of("tokens", 10)).close();
        set.observe(remaining("tokens", 30, Duration.ofMillis(500)));
        assertThat(set.stats().key("tokens").available()).as("the provider's 30, not the set's 90").isEqualTo(30);
        assertThat(grantsNow(set, Request.of("tokens", 10), 10)).as("30 more units: three grants of 10").isEqualTo(3);
        Refusal refusal = refusal(set.attempt(ONE));
        assertThat(refusal.grantableIn()).as("the budget ends at the reset").contains(Duration.ofMillis(500));
        assertThat(refusal.shortage("tokens").orElseThrow().available()).isZero();
        assertThat(set.tryAcquire(Request.of("requests", 1))).as("other keys are not held back").isPresent();
        // After the reset, only the configured limit: 100 per second, 40 taken (a bucket has refilled some).
        advanceTo(500 * MS);
        assertThat(set.stats().key("tokens").available()).isGreaterThanOrEqualTo(60);
        granted(set, Request.of("tokens", 60)).close();
    }

    @ParameterizedTest
    @EnumSource(WaitMode.class)
    @DisplayName("F2 L12 a waiter held by the provider's budget wakes exactly at the reset")
    void F2_waiter_wakes_exactly_at_the_reset(WaitMode mode) {
        LimitSet set = set();
        set.observe(remaining("tokens", 0, Duration.ofMillis(300)));
        refused(set, ONE);
        assertGrantedExactlyAt(set, Request.of("tokens", 5), 300 * MS, mode).close();
    }

    @Test
    @DisplayName("F2 F3 a leaky bucket honours the budget and the pause too")
    void F2_F3_leaky_bucket() {
        LimitSet set = set(RateAlgorithm.LEAKY_BUCKET);
        set.observe(remaining("tokens", 0, Duration.ofMillis(300)));
        assertThat(refusal(set.attempt(ONE)).grantableIn()).contains(Duration.ofMillis(300));
        set.observe(ProviderReport.builder().retryAfter(Duration.ofMillis(400)).build());
        assertGrantedExactlyAt(set, ONE, 400 * MS, WaitMode.BLOCKING).close();
    }

    @Test
    @DisplayName("F2 the budget never makes the set more generous than its own limit")
    void F2_budget_above_the_limit_changes_nothing() {
        LimitSet set = set();
        set.observe(remaining("tokens", 1_000, Duration.ofSeconds(10)));
        assertThat(grantsNow(set, Request.of("tokens", 10), 20)).as("the set's own 100 per second").isEqualTo(10);
    }

    @Test
    @DisplayName("F2 grants made before the report are not in its budget; refunds of later grants come back to it")
    void F2_budget_counts_grants_after_the_report_and_their_refunds() {
        LimitSet set = set();
        Acquisition before = granted(set, Request.of("tokens", 20));          // counted by the provider already
        set.observe(remaining("tokens", 30, Duration.ofSeconds(1)));
        Acquisition after = granted(set, Request.of("tokens", 30));           // the whole budget
        refused(set, ONE);
        before.update("tokens", 0).close();                                   // its refund is the set's, not the budget's
        refused(set, ONE);
        after.update("tokens", 10).close();                                   // 20 units back to the budget
        assertThat(set.stats().key("tokens").available()).isEqualTo(20);
        assertThat(grantsNow(set, Request.of("tokens", 10), 5)).isEqualTo(2);
        refused(set, ONE);
    }

    @Test
    @DisplayName("F2 L12 a refund within the budget wakes a waiter at once")
    void F2_refund_into_the_budget_wakes_waiters() throws Exception {
        LimitSet set = set();
        set.observe(remaining("tokens", 30, Duration.ofSeconds(1)));
        Acquisition all = granted(set, Request.of("tokens", 30));
        Future<Acquisition> waiter = waiter(set, Request.of("tokens", 20), WaitMode.ASYNC);
        all.update("tokens", 10).close();
        await(waiter).close();
    }

    @Test
    @DisplayName("F2 F3 a set of one GCRA limit (granted lock-free in memory) honours the budget and the pause")
    void F2_F3_single_gcra_limit() {
        LimitSet set = set(RateLimit.of("tokens", 100, Duration.ofSeconds(1), RateAlgorithm.GCRA));
        granted(set, ONE).close();
        set.observe(remaining("tokens", 2, Duration.ofMillis(100)));
        assertThat(grantsNow(set, ONE, 10)).isEqualTo(2);
        advanceTo(100 * MS);
        assertThat(grantsNow(set, ONE, 10)).as("after the reset, the limit's own burst").isEqualTo(10);
        set.observe(ProviderReport.builder().retryAfter(Duration.ofMillis(50)).build());
        refused(set, ONE);
        advanceTo(150 * MS);
        granted(set, ONE).close();
    }

    @Test
    @DisplayName("F2 a report about a later call replaces the budget; one about an earlier call can only lower it")
    void F2_newer_call_replaces_older_only_lowers() {
        LimitSet set = set();
        Acquisition first = granted(set, ONE);
        Acquisition second = granted(set, ONE);
        second.observe(remaining("tokens", 10, Duration.ofMillis(500)));
        first.observe(remaining("tokens", 50, Duration.ofMillis(900)));        // older answer read late: ignored
        assertThat(set.stats().key("tokens").available()).isEqualTo(10);
        first.observe(remaining("tokens", 5, Duration.ofMillis(900)));         // lower: applies, until 500 ms
        assertThat(set.stats().key("tokens").available()).isEqualTo(5);
        assertThat(refusal(set.attempt(Request.of("tokens", 6))).grantableIn()).contains(Duration.ofMillis(500));
        Acquisition third = granted(set, ONE);
        third.observe(remaining("tokens", 40, Duration.ofMillis(800)));        // a later call: replaces
        assertThat(set.stats().key("tokens").available()).isEqualTo(40);
        set.observe(remaining("tokens", 30, Duration.ofMillis(700)));          // on the set: the newest
        assertThat(grantsNow(set, Request.of("tokens", 10), 10)).isEqualTo(3);
        assertThat(refusal(set.attempt(ONE)).grantableIn()).contains(Duration.ofMillis(700));
        first.close();
        second.close();
        third.close();
    }

    @Test
    @DisplayName("F2 a report's budget excludes this JVM's grants made after the call it answers (maybe not yet counted)")
    void F2_grants_after_the_answered_call_are_excluded() {
        LimitSet set = set();
        Acquisition a = granted(set, ONE);
        a.observe(remaining("tokens", 100, Duration.ofSeconds(1)));
        Acquisition b = granted(set, Request.of("tokens", 20));
        Acquisition c = granted(set, Request.of("tokens", 10));
        b.observe(remaining("tokens", 50, Duration.ofSeconds(1)));             // counted b, perhaps not c
        assertThat(set.stats().key("tokens").available()).as("50 minus c's 10").isEqualTo(40);
        c.observe(remaining("tokens", 45, Duration.ofSeconds(1)));             // c's answer: nothing after it
        assertThat(set.stats().key("tokens").available()).isEqualTo(45);
        a.close();
        b.close();
        c.close();
    }

    @Test
    @DisplayName("F2 a remaining count without a reset time lasts one window of the key")
    void F2_remaining_without_reset_lasts_one_window() {
        LimitSet set = set();
        set.observe(ProviderReport.builder().remaining("tokens", 0).build());
        assertThat(refusal(set.attempt(ONE)).grantableIn()).contains(Duration.ofSeconds(1));
    }

    @ParameterizedTest
    @EnumSource(WaitMode.class)
    @DisplayName("F3 a refused call with Retry-After pauses the keys it concerns: waiters wake exactly then")
    void F3_retry_after_pauses_exactly(WaitMode mode) {
        LimitSet set = set();
        set.observe(ProviderReport.builder().retryAfter(Duration.ofSeconds(2)).pauseKeys("tokens").build());
        Refusal refusal = refusal(set.attempt(ONE));
        assertThat(refusal.grantableIn()).contains(Duration.ofSeconds(2));
        assertThat(set.stats().key("tokens").available()).as("nothing while paused").isZero();
        assertThat(set.tryAcquire(Request.of("requests", 1))).as("not paused").isPresent();
        assertGrantedExactlyAt(set, Request.of("tokens", 50), 2 * SECOND, mode).close();
    }

    @Test
    @DisplayName("F3 a Retry-After that names no key pauses every rate limit, never a resource limit")
    void F3_retry_after_alone_pauses_every_rate_limit() {
        LimitSet set = set();
        set.observe(ProviderReport.builder().retryAfter(Duration.ofMillis(700)).build());
        refused(set, ONE);
        refused(set, Request.of("requests", 1));
        granted(set, Request.of("conn", 1)).close();
        advanceTo(700 * MS);
        granted(set, Request.of("tokens", 1).and("requests", 1)).close();
    }

    @Test
    @DisplayName("F3 the refused call's reservation is not counted as used")
    void F3_refused_call_is_not_counted() {
        LimitSet set = set();
        Acquisition call = granted(set, Request.of("tokens", 60).and("requests", 1));
        call.observe(ProviderReport.builder().refused(true).build());
        call.close();
        LimitStats.KeyStats tokens = set.stats().key("tokens");
        assertThat(tokens.inUse()).as("refunded in full").isZero();
        assertThat(tokens.refunded()).isEqualTo(60);
        assertThat(set.stats().key("requests").inUse()).isZero();
        assertThat(set.stats().provider().refusals()).isEqualTo(1);
    }

    @Test
    @DisplayName("F3 a pause is only ever extended; the refused call's own usage may still be set afterwards")
    void F3_pause_is_extended_not_shortened() {
        LimitSet set = set();
        Acquisition call = granted(set, Request.of("tokens", 60));
        call.observe(ProviderReport.builder().retryAfter(Duration.ofSeconds(1)).build());
        call.update("tokens", 5).close();                                     // the caller knows better: 5 used
        assertThat(set.stats().key("tokens").inUse()).isEqualTo(5);
        set.observe(ProviderReport.builder().retryAfter(Duration.ofMillis(200)).build());
        assertThat(refusal(set.attempt(ONE)).grantableIn()).contains(Duration.ofSeconds(1));
        assertThat(set.stats().key("tokens").provider().pausedFor()).isEqualTo(Duration.ofSeconds(1));
        assertThat(set.stats().provider().pauses()).isEqualTo(2);
        advanceTo(SECOND);
        granted(set, ONE).close();
    }

    @Test
    @DisplayName("F4 a reported limit that differs is shown in stats and not adopted by default")
    void F4_differing_limit_is_reported_not_adopted() {
        LimitSet set = set();
        set.observe(ProviderReport.builder().limit("tokens", 50).limit("requests", 10).build());
        ProviderFeedback tokens = set.stats().key("tokens").provider();
        assertThat(tokens.limit()).hasValue(50);
        assertThat(tokens.limitDiffers()).isTrue();
        assertThat(tokens.adopted()).isFalse();
        assertThat(set.stats().key("requests").provider().limitDiffers()).isFalse();
        assertThat(grantsNow(set, Request.of("tokens", 10), 20)).as("the configured 100 stand").isEqualTo(10);
    }

    @Test
    @DisplayName("F4 a limit reported for another window is shown but not compared")
    void F4_limit_of_another_window_is_not_compared() {
        LimitSet set = set();
        set.observe(ProviderReport.builder().limit("tokens", 5_000, Duration.ofDays(1)).build());
        assertThat(set.stats().key("tokens").provider().limit()).hasValue(5_000);
        assertThat(set.stats().key("tokens").provider().limitDiffers()).isFalse();
    }

    @ParameterizedTest
    @EnumSource(value = RateAlgorithm.class, names = "LEAKY_BUCKET", mode = EnumSource.Mode.EXCLUDE)
    @DisplayName("F4 with adoptProviderLimits(true) the set admits the reported limit per window")
    void F4_adopted_limit_is_enforced(RateAlgorithm algorithm) {
        LimitSet set = track(LimitSet.builder()
                .add(RateLimit.of("tokens", 100, Duration.ofSeconds(1), algorithm))
                .adoptProviderLimits(true).backend(backend(clock)).build());
        set.observe(ProviderReport.builder().limit("tokens", 50).build());
        assertThat(set.stats().key("tokens").provider().adopted()).isTrue();
        assertThat(set.stats().key("tokens").available()).isEqualTo(50);
        assertThat(grantsNow(set, Request.of("tokens", 10), 20)).as("50 per second").isEqualTo(5);
        assertThat(set.stats().key("tokens").inUse()).isEqualTo(50);
        // A higher reported limit is adopted too: 200 per second from now on.
        set.observe(ProviderReport.builder().limit("tokens", 200).build());
        advanceTo(2 * SECOND);
        assertThat(grantsNow(set, Request.of("tokens", 50), 10)).isEqualTo(4);
    }

    @Test
    @DisplayName("F1 F4 keys the set does not have and resource limits are ignored; unreadable values are counted")
    void F4_unknown_keys_resources_and_unparsed_values() {
        LimitSet set = set();
        set.observe(ProviderReport.builder().remaining("other", 0, Duration.ofSeconds(5))
                .remaining("conn", 0, Duration.ofSeconds(5)).unparsed(2).build());
        granted(set, Request.of("conn", 2).and("tokens", 1)).close();
        LimitStats stats = set.stats();
        assertThat(stats.provider().reports()).isEqualTo(1);
        assertThat(stats.provider().unparsed()).isEqualTo(2);
        assertThat(stats.key("conn").provider()).isEqualTo(ProviderFeedback.NONE);
    }

    @Test
    @DisplayName("F2 what the provider said shows in stats: remaining and time to reset")
    void F2_stats_show_what_was_heard() {
        LimitSet set = set();
        set.observe(
                ProviderReport.builder().limit("tokens", 100).remaining("tokens", 42, Duration.ofSeconds(3)).build());
        advanceTo(SECOND);
        ProviderFeedback heard = set.stats().key("tokens").provider();
        assertThat(heard.remaining()).hasValue(42);
        assertThat(heard.resetIn()).contains(Duration.ofSeconds(2));
        assertThat(heard.limitDiffers()).isFalse();
        assertThat(heard.pausedFor()).isEqualTo(Duration.ZERO);
    }

    @Test
    @DisplayName("F4 a closed set ignores reports")
    void F4_closed_set_ignores_reports() {
        LimitSet set = set();
        set.close();
        set.observe(ProviderReport.builder().retryAfter(Duration.ofSeconds(1)).build());
    }
}
