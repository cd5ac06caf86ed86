package dev.concurry.hazelcast;

import static org.assertj.core.api.Assertions.assertThat;

import com.hazelcast.internal.serialization.SerializationService;
import com.hazelcast.internal.serialization.impl.DefaultSerializationServiceBuilder;
import com.hazelcast.map.EntryProcessor;
import dev.concurry.hazelcast.SetProcessors.Attempts;
import dev.concurry.hazelcast.SetProcessors.Decide;
import dev.concurry.hazelcast.SetProcessors.Decisions;
import dev.concurry.hazelcast.SetProcessors.Settle;
import dev.concurry.limit.Limit;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.limit.spi.Batch;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.ResolvedRequest;
import java.time.Duration;
import java.util.AbstractMap;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/**
 * The entry processors on their own (SPEC L18b), without a cluster: each call crosses Hazelcast's own
 * serialization (processor, backup processor, value), runs on an "owner" entry, and its backup processor
 * runs on a "backup" entry, which must then hold exactly the owner's state. Time is the test's reading.
 */
class SetProcessorsTest {
    private static final long SECOND = 1_000_000_000L;
    private static final SerializationService SERIALIZATION = new DefaultSerializationServiceBuilder().build();
    private static final UUID ME = new UUID(1, 1);
    private static final UUID OTHER = new UUID(2, 2);
    private static final long ORIGIN = 42;

    private final Map.Entry<String, StoredSet> owner = new AbstractMap.SimpleEntry<>("set", null);
    private final Map.Entry<String, StoredSet> backup = new AbstractMap.SimpleEntry<>("set", null);
    private List<Limit> limits;
    private LimitSetDefinition definition;
    private long callNo;
    private boolean lastSentBackup;

    // ---- the backup ------------------------------------------------------------------------------

    @Test
    void L18b_every_change_reaches_the_backup_exactly_as_the_owner_computed_it() {
        open(RateLimit.of("requests", 5, Duration.ofSeconds(1)),
                RateLimit.of("tokens", 100, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET),
                ResourceLimit.of("db", 2));
        long t = 0;
        for (int i = 0; i < 40; i++, t += 37_000_000L + i) {        // readings no clock would repeat
            Decisions d = decide(t, 0, try_(Request.of("requests", 1).and("tokens", 7).and("db", 1)));
            if (d.granted[0]) {
                settle(t + 1, d.values[0], Request.of("requests", 1).and("tokens", 7).and("db", 1),
                        i % 3 == 0 ? new double[] {1, 2, Double.NaN} : null);
            }
            assertThat(StoredSets.sameState(owner.getValue(), backup.getValue())).as("after call " + i).isTrue();
        }
        assertThat(owner.getValue().version).isGreaterThan(10);
    }

    @Test
    void L18b_a_refusal_changes_nothing_and_sends_no_backup() {
        open(RateLimit.of("requests", 1, Duration.ofMinutes(1)));
        assertThat(decide(0, 0, try_(Request.of("requests", 1))).granted[0]).isTrue();
        long version = owner.getValue().version;
        double[] before = owner.getValue().state.clone();

        Decisions refused = decide(SECOND, 0, try_(Request.of("requests", 1)));

        assertThat(refused.granted[0]).isFalse();
        assertThat(lastSentBackup).as("a backup was sent").isFalse();
        assertThat(owner.getValue().version).isEqualTo(version);
        assertThat(owner.getValue().state).isEqualTo(before);
    }

    // ---- repeated and abandoned calls ------------------------------------------------------------

    @Test
    void L18b_a_repeated_call_is_decided_again_at_its_own_time_and_nothing_is_granted_twice() {
        open(RateLimit.of("requests", 3, Duration.ofMinutes(1)), ResourceLimit.of("db", 2));
        Attempts two = attempts(Request.of("requests", 1).and("db", 1), Request.of("requests", 1).and("db", 1));
        Decisions first = run(new Decide(0, ORIGIN, 7, 0, ME, 60 * SECOND, SECOND, signature(), two));
        assertThat(first.granted).containsExactly(true, true);

        // The reply was lost; the caller sends the same call again a second later.
        Decisions repeat = run(new Decide(SECOND, ORIGIN, 7, 0, ME, 60 * SECOND, SECOND, signature(), two));

        assertThat(repeat.granted).containsExactly(true, true);
        assertThat(repeat.values).doesNotContain(first.values[0], first.values[1]);
        assertThat(owner.getValue().leases).containsOnlyKeys(repeat.values[0], repeat.values[1]);
        assertThat(StoredSets.sameState(owner.getValue(), backup.getValue())).isTrue();
        callNo = 7;
        // 2 of 3 requests and both connections taken once: one more request fits, but no connection.
        assertThat(decide(2 * SECOND, 0, try_(Request.of("requests", 1)), try_(Request.of("requests", 1))).granted)
                .containsExactly(true, false);
        assertThat(decide(2 * SECOND, 0, try_(Request.of("db", 1))).granted).containsExactly(false);
    }

    @Test
    void L18b_a_call_older_than_the_last_applied_is_ignored() {
        open(RateLimit.of("requests", 10, Duration.ofMinutes(1)));
        run(new Decide(0, ORIGIN, 5, 0, ME, SECOND, SECOND, signature(), attempts(Request.of("requests", 1))));
        long version = owner.getValue().version;

        Decisions late = run(new Decide(0, ORIGIN, 4, 0, ME, SECOND, SECOND, signature(),
                attempts(Request.of("requests", 1))));

        assertThat(late.status).isEqualTo(Decisions.STALE);
        assertThat(owner.getValue().version).isEqualTo(version);
    }

    @Test
    void L18b_the_grants_of_a_call_its_caller_gave_up_on_are_given_back_by_its_next_call() {
        open(RateLimit.of("tokens", 10, Duration.ofMinutes(1)), ResourceLimit.of("db", 1));
        // Call 1 is applied, but its caller never hears back and tells its waiters nothing was taken.
        Decisions lost = run(new Decide(0, ORIGIN, 1, 0, ME, 60 * SECOND, 60 * SECOND, signature(),
                attempts(Request.of("tokens", 10).and("db", 1))));
        assertThat(lost.granted[0]).isTrue();
        assertThat(owner.getValue().leases).containsKey(lost.values[0]);

        // Its next call names it: everything it took comes back first.
        Decisions next = run(new Decide(SECOND, ORIGIN, 2, 1, ME, 60 * SECOND, 60 * SECOND, signature(),
                attempts(Request.of("tokens", 10).and("db", 1))));

        assertThat(next.granted[0]).isTrue();
        assertThat(owner.getValue().leases).doesNotContainKey(lost.values[0]).containsKey(next.values[0]);
        assertThat(StoredSets.sameState(owner.getValue(), backup.getValue())).isTrue();
    }

    @Test
    void L18b_a_call_given_up_on_but_never_applied_gives_nothing_back() {
        open(RateLimit.of("tokens", 10, Duration.ofMinutes(1)));
        run(new Decide(0, ORIGIN, 1, 0, ME, SECOND, 60 * SECOND, signature(), attempts(Request.of("tokens", 6))));
        // Call 2 never reached the owner; call 3 names it. Call 1 (answered) keeps its grant.
        Decisions next = run(new Decide(SECOND, ORIGIN, 3, 2, ME, SECOND, 60 * SECOND, signature(),
                attempts(Request.of("tokens", 6))));
        assertThat(next.granted[0]).isFalse();
    }

    @Test
    void L18b_a_call_given_up_on_that_arrives_after_a_later_refused_call_is_ignored_and_keeps_no_permit() {
        open(ResourceLimit.of("db", 1));
        Decisions other = run(new Decide(0, ORIGIN + 1, 1, 0, OTHER, 60 * SECOND, 60 * SECOND, signature(),
                attempts(Request.of("db", 1))));
        assertThat(other.granted[0]).isTrue();
        // Call 1 is given up on while Hazelcast still carries it (an invocation outlives the command timeout);
        // call 2 names it, and is refused: the connection is the other origin's.
        Decisions next = run(new Decide(SECOND, ORIGIN, 2, 1, ME, 60 * SECOND, 60 * SECOND, signature(),
                attempts(Request.of("db", 1))));
        assertThat(next.granted[0]).isFalse();
        assertThat(settle(SECOND, other.values[0], Request.of("db", 1), null) & Settle.OUTCOME)
                .isEqualTo(Settle.RELEASED);

        // Call 1 arrives now. Its caller answered call 2, so no later call names call 1 again: granted now, its
        // connection would stay taken, unused, until its lease expired.
        Decisions late = run(new Decide(2 * SECOND, ORIGIN, 1, 0, ME, 60 * SECOND, 60 * SECOND, signature(),
                attempts(Request.of("db", 1))));

        assertThat(late.status).isEqualTo(Decisions.STALE);
        assertThat(owner.getValue().leases).isEmpty();
        assertThat(run(new Decide(3 * SECOND, ORIGIN, 3, 0, ME, 60 * SECOND, 60 * SECOND, signature(),
                attempts(Request.of("db", 1)))).granted[0]).isTrue();
        assertThat(StoredSets.sameState(owner.getValue(), backup.getValue())).isTrue();
    }

    @Test
    void L18b_a_refusal_is_recorded_and_backed_up_only_when_it_names_a_call_given_up_on() {
        open(ResourceLimit.of("db", 1));
        assertThat(decide(0, 0, try_(Request.of("db", 1))).granted[0]).isTrue();

        assertThat(decide(SECOND, 0, try_(Request.of("db", 1))).granted[0]).isFalse();
        assertThat(lastSentBackup).as("a backup was sent").isFalse();
        // Naming a call given up on, the same refusal is recorded (and backed up): that call, should it still
        // arrive, is older than the last recorded one.
        assertThat(decide(SECOND, 2, try_(Request.of("db", 1))).granted[0]).isFalse();
        assertThat(lastSentBackup).as("a backup was sent").isTrue();
        assertThat(owner.getValue().calls.get(ORIGIN).callNo()).isEqualTo(3);
        assertThat(StoredSets.sameState(owner.getValue(), backup.getValue())).isTrue();
    }

    // ---- settling --------------------------------------------------------------------------------

    @Test
    void L18b_L13_settling_a_grant_twice_applies_once() {
        open(RateLimit.of("tokens", 10, Duration.ofMinutes(1)), ResourceLimit.of("db", 1));
        Request request = Request.of("tokens", 10).and("db", 1);
        Decisions d = decide(0, 0, try_(request));
        int first = settle(SECOND, d.values[0], request, new double[] {0, Double.NaN});
        long version = owner.getValue().version;

        int again = settle(2 * SECOND, d.values[0], request, new double[] {0, Double.NaN});

        assertThat(first & Settle.OUTCOME).isEqualTo(Settle.RELEASED);
        assertThat(first & Settle.FREED).isNotZero();
        assertThat(again).isEqualTo(first);
        assertThat(owner.getValue().version).isEqualTo(version);
        // Refunded and released once: one more grant fits, not two.
        assertThat(decide(3 * SECOND, 0, try_(request), try_(request)).granted).containsExactly(true, false);
    }

    @Test
    void L18b_settled_grants_are_remembered_only_while_a_repeat_may_come() {
        open(RateLimit.of("tokens", 1000, Duration.ofMinutes(1)));
        Request request = Request.of("tokens", 10);
        for (int i = 0; i < 5; i++) {
            Decisions d = decide(i * 10 * SECOND, 0, try_(request));
            settle(i * 10 * SECOND + 1, d.values[0], request, new double[] {1});
        }
        // Each settlement is kept for keepNanos (5 s here): the older ones are gone.
        assertThat(owner.getValue().settled).hasSize(1);
        assertThat(StoredSets.sameState(owner.getValue(), backup.getValue())).isTrue();
    }

    // ---- leases ----------------------------------------------------------------------------------

    @Test
    void L18b_an_expired_lease_is_reclaimed_a_renewed_one_is_not_and_a_late_release_is_not_counted_twice() {
        open(ResourceLimit.of("db", 1));
        Request db = Request.of("db", 1);
        long lease = SECOND;
        Decisions held = run(decideCall(0, lease, try_(db)));
        boolean[] renewed = run(new SetProcessors.Renew(900_000_000L, ME, new long[] {held.values[0]}, lease));
        assertThat(renewed).containsExactly(true);
        assertThat(run(decideCall(1_500_000_000L, lease, try_(db))).granted[0]).as("renewed until 1.9 s").isFalse();

        Decisions after = run(decideCall(2 * SECOND, 10 * SECOND, try_(db)));

        assertThat(after.granted[0]).as("expired at 1.9 s: reclaimed").isTrue();
        int late = settle(3 * SECOND, held.values[0], db, null);
        assertThat(late & Settle.OUTCOME).isEqualTo(Settle.LEASE_EXPIRED);
        assertThat(run(decideCall(3 * SECOND, lease, try_(db))).granted[0]).as("released twice").isFalse();
    }

    @Test
    void L18b_a_waiter_short_of_a_permit_learns_when_the_earliest_lease_expires() {
        open(ResourceLimit.of("db", 1));
        run(decideCall(0, 10 * SECOND, try_(Request.of("db", 1))));
        Decisions refused = run(decideCall(4 * SECOND, 10 * SECOND, waiter(Request.of("db", 1))));
        assertThat(refused.granted[0]).isFalse();
        assertThat(refused.waits[0]).isInfinite();
        assertThat(refused.untilLeaseExpiry).isEqualTo(6.0 * SECOND);
    }

    @Test
    void L18b_the_permits_of_a_holder_that_left_are_released_and_no_one_elses() {
        open(ResourceLimit.of("db", 3));
        Request db = Request.of("db", 1);
        run(new Decide(0, ORIGIN, ++callNo, 0, ME, 60 * SECOND, SECOND, signature(), attempts(db)));
        run(new Decide(0, ORIGIN + 1, 1, 0, OTHER, 60 * SECOND, SECOND, signature(), attempts(db)));
        run(new Decide(0, ORIGIN + 1, 2, 0, OTHER, 60 * SECOND, SECOND, signature(), attempts(db)));

        int released = run(new SetProcessors.ReleaseHolder(OTHER));

        assertThat(released).isEqualTo(2);
        assertThat(owner.getValue().leases.values()).extracting(StoredSet.Lease::holder).containsExactly(ME);
        assertThat(decide(SECOND, 0, try_(db), try_(db), try_(db)).granted).containsExactly(true, true, false);
    }

    // ---- identity and time -----------------------------------------------------------------------

    @Test
    void L18b_a_set_with_other_limits_under_the_same_name_is_refused_naming_the_stored_ones() {
        open(RateLimit.of("requests", 5, Duration.ofSeconds(1)));
        String stored = run(new SetProcessors.Open(0, List.of(RateLimit.of("requests", 6, Duration.ofSeconds(1)))));
        assertThat(stored).contains("capacity=5.0");
        Decisions d = run(new Decide(0, ORIGIN, 1, 0, ME, SECOND, SECOND,
                CompiledLimits.signature(List.of(RateLimit.of("requests", 6, Duration.ofSeconds(1)))),
                attempts(Request.of("requests", 1))));
        assertThat(d.status).isEqualTo(Decisions.OTHER_LIMITS);
    }

    @Test
    void L7_L18b_time_never_goes_backwards_in_a_set() {
        open(RateLimit.of("requests", 1, Duration.ofSeconds(10), RateAlgorithm.TOKEN_BUCKET));
        assertThat(decide(20 * SECOND, 0, try_(Request.of("requests", 1))).granted[0]).isTrue();
        // A reading from before the last change (another member's clock, behind): time stands still at 20 s.
        Decisions behind = decide(5 * SECOND, 0, try_(Request.of("requests", 1)));
        assertThat(behind.granted[0]).isFalse();
        assertThat(behind.waits[0]).isEqualTo(10.0 * SECOND);
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private void open(Limit... specs) {
        limits = List.of(specs);
        definition = new LimitSetDefinition("set", limits, Map.of());
        assertThat(run(new SetProcessors.Open(0, limits))).isNull();
        assertThat(backup.getValue()).isNotNull();
    }

    private int signature() {
        return CompiledLimits.signature(limits);
    }

    private record Attempt(Request request, boolean isTry) {
    }

    private static Attempt try_(Request request) {
        return new Attempt(request, true);
    }

    private static Attempt waiter(Request request) {
        return new Attempt(request, false);
    }

    private Attempts attempts(Request... requests) {
        return attempts(Arrays.stream(requests).map(SetProcessorsTest::try_).toArray(Attempt[]::new));
    }

    private Attempts attempts(Attempt... attempts) {
        ResolvedRequest[] resolved = Arrays.stream(attempts).map(a -> ResolvedRequest.resolve(definition, a.request()))
                .toArray(ResolvedRequest[]::new);
        return Attempts.of(new Batch() {
            @Override
            public int size() {
                return attempts.length;
            }

            @Override
            public ResolvedRequest request(int i) {
                return resolved[i];
            }

            @Override
            public long id(int i) {
                return i + 1;
            }

            @Override
            public boolean isTry(int i) {
                return attempts[i].isTry();
            }
        });
    }

    private Decide decideCall(long reading, long leaseNanos, Attempt... attempts) {
        return new Decide(reading, ORIGIN, ++callNo, 0, ME, leaseNanos, 5 * SECOND, signature(), attempts(attempts));
    }

    private Decisions decide(long reading, long abandonedFrom, Attempt... attempts) {
        return run(new Decide(reading, ORIGIN, ++callNo, abandonedFrom, ME, 60 * SECOND, 5 * SECOND, signature(),
                attempts(attempts)));
    }

    private int settle(long reading, long seq, Request request, double[] used) {
        return run(new Settle(reading, seq, ResolvedRequest.resolve(definition, request), used, 5 * SECOND));
    }

    /**
     * Sends {@code processor} as Hazelcast would: serialized, run on the owner's entry, then its backup
     * processor serialized and run on the backup's entry.
     */
    @SuppressWarnings("unchecked")
    private <R> R run(EntryProcessor<String, StoredSet, R> processor) {
        EntryProcessor<String, StoredSet, R> sent = (EntryProcessor<String, StoredSet, R>) copy(processor);
        R result = sent.process(owner);
        EntryProcessor<String, StoredSet, R> backupProcessor = sent.getBackupProcessor();
        lastSentBackup = backupProcessor != null;
        if (backupProcessor != null) {
            ((EntryProcessor<String, StoredSet, R>) copy(backupProcessor)).process(backup);
        }
        return result == null ? null : (R) copy(result);
    }

    private static Object copy(Object value) {
        return SERIALIZATION.toObject(SERIALIZATION.toData(value));
    }
}
