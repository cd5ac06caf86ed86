package dev.concurry.tck;

import dev.concurry.limit.AcquireInterruptedException;
import dev.concurry.limit.AcquireTimeoutException;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.CallLimit;
import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitPoolStats;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.LimitStats;
import dev.concurry.limit.PoolBalancing;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * SPEC L21–L23 (LimitPool): balancing, failover, waiting on whichever set frees first, the chosen set's
 * config, routing by keys, giving up with nothing taken — run against pools of the backend's sets.
 */
@Timeout(60)
public abstract class LimitPoolTck extends BackendTck {
    private static final Duration MINUTE = Duration.ofMinutes(1);
    private static final java.util.concurrent.atomic.AtomicLong NAMES = new java.util.concurrent.atomic.AtomicLong();
    private static final Request TEN_TPM = Request.of("tpm", 10);

    // ---- L21: the seed's multi-region example ----------------------------------------------------

    @Test
    void seedMultiRegionExampleSpreadsTpmOverBothRegionsAndSaysWhichRegion_L21_L22() {
        LimitSet usEast = track(LimitSet.builder().add(RateLimit.of("tpm", 1000, MINUTE))
                .config(Map.of("region", "us-east-1")).backend(backend(clock)).build());
        LimitSet euWest = track(LimitSet.builder().add(RateLimit.of("tpm", 1000, MINUTE))
                .config(Map.of("region", "eu-west-1")).backend(backend(clock)).build());
        LimitPool regions = LimitPool.of(usEast, euWest);

        Map<String, Integer> byRegion = new HashMap<>();
        for (int i = 0; i < 200; i++) {
            try (Acquisition acq = regions.acquire(Request.of("tpm", 10))) {
                byRegion.merge(acq.config().get("region"), 1, Integer::sum);
            }
        }

        assertThat(regions.balancing()).isEqualTo(PoolBalancing.CAPACITY_AWARE);
        assertThat(byRegion).containsOnly(Map.entry("us-east-1", 100), Map.entry("eu-west-1", 100));
        assertThat(regions.tryAcquire(Request.of("tpm", 10))).as("2000 tpm used: both regions full").isEmpty();
        assertThat(regions.stats().key("tpm").capacity()).isEqualTo(2000);
        assertThat(regions.stats().key("tpm").available()).isZero();
    }

    // ---- L22: balancing --------------------------------------------------------------------------

    @Test
    void roundRobinAlternatesExactlyBetweenSets_L22() {
        LimitSet a = rateSet("a", 1000);
        LimitSet b = rateSet("b", 1000);
        LimitPool pool = LimitPool.builder().add(a).add(b).balancing(PoolBalancing.ROUND_ROBIN).build();

        List<String> regions = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            regions.add(pool.tryAcquire(TEN_TPM).orElseThrow().config().get("region"));
        }

        assertThat(regions).containsExactly("a", "b", "a", "b", "a", "b");
        LimitPoolStats stats = pool.poolStats();
        assertThat(stats.sets()).extracting(LimitPoolStats.SetStats::dispatched).containsExactly(3L, 3L);
        assertThat(stats.dispatched()).isEqualTo(6);
        assertThat(stats.failovers()).isZero();
    }

    @Test
    void randomBalancingUsesEverySetRoughlyEvenly_L22() {
        LimitSet a = rateSet("a", 1_000_000);
        LimitSet b = rateSet("b", 1_000_000);
        LimitSet c = rateSet("c", 1_000_000);
        LimitPool pool = LimitPool.builder().add(a).add(b).add(c)
                .balancing(PoolBalancing.RANDOM).random(new Random(42)).build();

        for (int i = 0; i < 300; i++) {
            pool.acquire(TEN_TPM).close();
        }

        assertThat(pool.poolStats().sets()).extracting(LimitPoolStats.SetStats::dispatched)
                .allSatisfy(served -> assertThat(served).isBetween(50L, 150L));
        assertThat(pool.poolStats().failovers()).isZero();
    }

    @Test
    void capacityAwareDefaultPrefersTheSetWithTheMostLeft_L22() {
        LimitSet a = rateSet("a", 100);
        LimitSet b = rateSet("b", 100);
        a.tryAcquire(Request.of("tpm", 50)).orElseThrow();      // a has 50 left, b 100
        LimitPool pool = LimitPool.of(a, b);

        List<String> regions = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            regions.add(pool.tryAcquire(TEN_TPM).orElseThrow().config().get("region"));
        }

        assertThat(regions).as("b is preferred until it has no more left than a").containsExactly("b", "b", "b",
                "b", "b");
        assertThat(pool.tryAcquire(TEN_TPM).orElseThrow().config().get("region"))
                .as("a tie (50 left each) is broken by rotation").isIn("a", "b");
        assertThat(pool.poolStats().failovers()).isZero();
    }

    @ParameterizedTest
    @EnumSource(PoolBalancing.class)
    void withOneRegionExhaustedEveryRequestIsServedByTheOtherWithoutWaiting_L22(PoolBalancing balancing) {
        LimitSet a = rateSet("a", 1000);
        LimitSet b = rateSet("b", 1000);
        a.tryAcquire(Request.of("tpm", 1000)).orElseThrow();
        LimitPool pool = LimitPool.builder().add(a).add(b).balancing(balancing).random(new Random(7))
                .clock(clock).build();

        for (int i = 0; i < 10; i++) {
            Optional<Acquisition> now = pool.tryAcquire(TEN_TPM);
            assertThat(now).as("tryAcquire #%d", i).isPresent();
            assertThat(now.get().config()).containsEntry("region", "b");
            Acquisition blocking = pool.acquire(TEN_TPM, Duration.ZERO);     // a zero timeout: must be now
            assertThat(blocking.config()).containsEntry("region", "b");
            assertThat(pool.acquire(TEN_TPM).config()).containsEntry("region", "b");
        }

        LimitPoolStats stats = pool.poolStats();
        assertThat(stats.sets()).extracting(LimitPoolStats.SetStats::dispatched).containsExactly(0L, 30L);
        assertThat(b.stats().key("tpm").inUse()).isEqualTo(300);
        assertThat(stats.timedOut()).isZero();
        assertThat(b.stats().waiting()).isZero();
        if (balancing == PoolBalancing.ROUND_ROBIN) {
            assertThat(stats.failovers()).as("every other request preferred a and failed over").isEqualTo(15);
        }
        if (balancing == PoolBalancing.CAPACITY_AWARE) {
            assertThat(stats.failovers()).as("a has no headroom, so b is preferred").isZero();
        }
    }

    @Test
    void aClosedSetIsSkippedAndAnotherServes_L22() {
        LimitSet a = rateSet("a", 1000);
        LimitSet b = rateSet("b", 1000);
        LimitPool pool = LimitPool.builder().add(a).add(b).balancing(PoolBalancing.ROUND_ROBIN).build();
        a.close();

        for (int i = 0; i < 4; i++) {
            assertThat(pool.acquire(TEN_TPM).config()).containsEntry("region", "b");
        }
        b.close();
        assertThatThrownBy(() -> pool.tryAcquire(TEN_TPM)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    // ---- L22: waiting on whichever set frees first ------------------------------------------------

    @Test
    void blockingAcquireWithAllExhaustedIsGrantedBySetThatFreesFirstAtThatMoment_L22() {
        LimitSet a = rateSet("a", 1000);
        LimitSet b = rateSet("b", 1000);
        b.tryAcquire(Request.of("tpm", 1000)).orElseThrow();          // b frees at 60 s
        clock.advance(Duration.ofSeconds(10));
        a.tryAcquire(Request.of("tpm", 1000)).orElseThrow();          // a frees at 70 s
        LimitPool pool = LimitPool.of(a, b);

        Background<Acquisition> waiter = background(() -> pool.acquire(TEN_TPM));
        awaitUntil(() -> a.stats().waiting() == 1 && b.stats().waiting() == 1, "waiting on both sets");

        clock.advanceNanos(Duration.ofSeconds(50).toNanos() - 1);    // 1 ns before b frees
        assertThat(waiter.outcome).isNotDone();
        assertThat(a.stats().waiting()).isEqualTo(1);
        assertThat(b.stats().waiting()).isEqualTo(1);

        clock.advanceNanos(1);                                        // b frees now
        Acquisition acq = waiter.join();
        assertThat(acq.config()).containsEntry("region", "b");
        assertThat(clock.nanoTime()).isEqualTo(Duration.ofSeconds(60).toNanos());
        awaitUntil(() -> a.stats().waiting() == 0, "a's wait withdrawn");
        assertThat(a.stats().granted()).as("a granted nothing more").isEqualTo(1);
        assertThat(a.stats().key("tpm").inUse()).isEqualTo(1000);
        assertThat(b.stats().key("tpm").inUse()).isEqualTo(10);
        assertThat(pool.poolStats().sets()).extracting(LimitPoolStats.SetStats::dispatched).containsExactly(0L, 1L);
    }

    @Test
    void asyncAcquireWithAllExhaustedIsGrantedBySetThatFreesFirstAtThatMoment_L22() {
        LimitSet a = rateSet("a", 1000);
        LimitSet b = rateSet("b", 1000);
        a.tryAcquire(Request.of("tpm", 1000)).orElseThrow();          // a frees at 60 s
        clock.advance(Duration.ofSeconds(10));
        b.tryAcquire(Request.of("tpm", 1000)).orElseThrow();          // b frees at 70 s
        LimitPool pool = LimitPool.builder().add(a).add(b).balancing(PoolBalancing.ROUND_ROBIN).build();
        pool.tryAcquire(TEN_TPM);                                     // turn the rotation: b is preferred next

        CompletableFuture<Acquisition> future = pool.acquireAsync(TEN_TPM);
        assertThat(a.stats().waiting()).isEqualTo(1);
        assertThat(b.stats().waiting()).isEqualTo(1);

        clock.advanceNanos(Duration.ofSeconds(50).toNanos() - 1);
        assertThat(future).isNotDone();
        assertThat(a.stats().waiting()).isEqualTo(1);

        clock.advanceNanos(1);
        Acquisition acq = future.orTimeout(10, TimeUnit.SECONDS).join();
        assertThat(acq.config()).containsEntry("region", "a");
        awaitUntil(() -> b.stats().waiting() == 0, "b's wait withdrawn");
        assertThat(b.stats().key("tpm").inUse()).isEqualTo(1000);
        LimitPoolStats stats = pool.poolStats();
        assertThat(stats.sets()).extracting(LimitPoolStats.SetStats::dispatched).containsExactly(1L, 0L);
        assertThat(stats.failovers()).as("b was preferred, a served").isEqualTo(1);
    }

    @Test
    void blockingAcquireIsGrantedByAResourceReleasedOnTheSecondSet_L22() {
        LimitSet a = resourceSet("a", 1);
        LimitSet b = resourceSet("b", 1);
        LimitPool pool = LimitPool.of(a, b);
        Acquisition onA = pool.acquire(Request.of("conn", 1));
        Acquisition onB = pool.acquire(Request.of("conn", 1));
        assertThat(List.of(onA.config().get("region"), onB.config().get("region"))).containsExactlyInAnyOrder("a",
                "b");
        Acquisition heldOnB = onA.config().get("region").equals("b") ? onA : onB;
        Acquisition heldOnA = heldOnB == onA ? onB : onA;

        Background<Acquisition> waiter = background(() -> pool.acquire(Request.of("conn", 1)));
        awaitUntil(() -> a.stats().waiting() == 1 && b.stats().waiting() == 1, "waiting on both sets");
        assertThat(waiter.outcome).isNotDone();

        heldOnB.close();
        Acquisition acq = waiter.join();
        assertThat(acq.config()).containsEntry("region", "b");
        awaitUntil(() -> a.stats().waiting() == 0, "a's wait withdrawn");
        assertThat(a.stats().key("conn").inUse()).isEqualTo(1);
        assertThat(b.stats().key("conn").inUse()).isEqualTo(1);

        acq.close();
        heldOnA.close();
        assertThat(a.stats().key("conn").inUse()).isZero();
        assertThat(b.stats().key("conn").inUse()).isZero();
    }

    @Test
    void aSecondGrantInTheSameInstantIsGivenBackWithItsUnitsRefunded_L22() {
        LimitSet a = rateSet("a", 1000);
        LimitSet b = rateSet("b", 1000);
        a.tryAcquire(Request.of("tpm", 1000)).orElseThrow();
        b.tryAcquire(Request.of("tpm", 1000)).orElseThrow();          // both free at 60 s
        LimitPool pool = LimitPool.of(a, b);

        CompletableFuture<Acquisition> future = pool.acquireAsync(TEN_TPM);
        clock.advance(MINUTE);
        Acquisition acq = future.orTimeout(10, TimeUnit.SECONDS).join();

        awaitUntil(() -> a.stats().waiting() == 0 && b.stats().waiting() == 0, "no wait left");
        awaitUntil(() -> a.stats().key("tpm").inUse() + b.stats().key("tpm").inUse() == 10,
                "only the winner's 10 units counted");
        LimitSet winner = acq.config().get("region").equals("a") ? a : b;
        assertThat(winner.stats().key("tpm").inUse()).isEqualTo(10);
        assertThat(pool.poolStats().dispatched()).isEqualTo(1);
    }

    // ---- L21: config and release go to the set that granted --------------------------------------

    @Test
    void configNamesTheGrantingSetAndReleaseGoesBackToIt_L21() {
        LimitSet a = resourceSet("a", 2);
        LimitSet b = resourceSet("b", 2);
        LimitPool pool = LimitPool.builder().add(a).add(b).balancing(PoolBalancing.ROUND_ROBIN).build();

        Acquisition first = pool.acquire(Request.of("conn", 1));
        assertThat(first.config()).isEqualTo(Map.of("region", "a"));
        assertThat(a.stats().key("conn").inUse()).isEqualTo(1);
        assertThat(b.stats().key("conn").inUse()).isZero();

        Acquisition second = pool.acquire(Request.of("conn", 1));
        assertThat(second.config()).isEqualTo(Map.of("region", "b"));
        first.close();
        assertThat(a.stats().key("conn").inUse()).isZero();
        assertThat(b.stats().key("conn").inUse()).as("b untouched by a's release").isEqualTo(1);
        second.close();
        assertThat(b.stats().key("conn").inUse()).isZero();
    }

    // ---- L23: routing by keys ---------------------------------------------------------------------

    @Test
    void requestsGoOnlyToSetsThatHaveEveryRequestedKey_L23() {
        LimitSet a = track(LimitSet.builder().add(RateLimit.of("tokens", 1000, MINUTE)).config("region", "a")
                .backend(backend(clock)).build());
        LimitSet b = track(LimitSet.builder().add(RateLimit.of("tokens", 1000, MINUTE))
                .add(RateLimit.of("images", 10, MINUTE)).config("region", "b")
                .backend(backend(clock)).build());
        LimitPool pool = LimitPool.builder().add(a).add(b).balancing(PoolBalancing.ROUND_ROBIN).build();

        for (int i = 0; i < 4; i++) {
            assertThat(pool.acquire(Request.of("images", 1)).config()).containsEntry("region", "b");
            assertThat(pool.acquire(Request.of("images", 1).and("tokens", 5)).config()).containsEntry("region", "b");
        }
        assertThat(pool.tryAcquire(Request.of("images", 2))).isPresent();
        assertThat(pool.tryAcquire(Request.of("images", 1))).as("only b has images, and b is out of them")
                .isEmpty();
        List<String> tokenRegions = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            tokenRegions.add(pool.acquire(Request.of("tokens", 1)).config().get("region"));
        }
        assertThat(tokenRegions).contains("a", "b");
        assertThat(pool.keys()).containsExactly("tokens", "images");
        assertThat(pool.stats().key("tokens").capacity()).isEqualTo(2000);
        assertThat(pool.stats().key("images").capacity()).isEqualTo(10);
    }

    @Test
    void aKeyNoSetHasIsRejectedAtOnceListingThePoolsKeys_L23() {
        LimitSet a = track(
                LimitSet.builder().add(RateLimit.of("tokens", 1000, MINUTE)).backend(backend(clock)).build());
        LimitSet b = track(LimitSet.builder().add(RateLimit.of("tokens", 1000, MINUTE))
                .add(RateLimit.of("images", 10, MINUTE)).backend(backend(clock)).build());
        LimitPool pool = LimitPool.of(a, b);

        assertThatThrownBy(() -> pool.acquire(Request.of("video", 1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'video'").hasMessageContaining("[tokens, images]");
        assertThatThrownBy(() -> pool.tryAcquire(Request.of("tokens", 1).and("video", 1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'video'");
        assertThat(pool.acquireAsync(Request.of("video", 1))).isCompletedExceptionally();
        assertThat(a.stats().granted() + b.stats().granted()).isZero();
    }

    @Test
    void anAmountAboveEveryEligibleSetsCapacityIsRejectedAndOneThatFitsOnlyOneGoesThere_L10_L23() {
        LimitSet small = rateSet("small", 100);
        LimitSet large = rateSet("large", 1000);
        LimitPool pool = LimitPool.builder().add(small).add(large).balancing(PoolBalancing.ROUND_ROBIN).build();

        assertThatThrownBy(() -> pool.acquire(Request.of("tpm", 5000)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("could ever grant").hasMessageContaining("capacity");
        for (int i = 0; i < 3; i++) {
            assertThat(pool.acquire(Request.of("tpm", 200)).config()).containsEntry("region", "large");
        }
    }

    @Test
    void theEmptyRequestGoesOnlyToSetsWithoutAPlainRateLimit_L9_L23() {
        LimitSet rates = rateSet("rates", 1000);
        LimitSet calls = track(LimitSet.builder().add(CallLimit.of(5, MINUTE)).add(ResourceLimit.of("conn", 2))
                .config("region", "calls").backend(backend(clock)).build());
        LimitPool pool = LimitPool.builder().add(rates).add(calls).balancing(PoolBalancing.ROUND_ROBIN).build();

        for (int i = 0; i < 2; i++) {
            Acquisition acq = pool.acquire();
            assertThat(acq.config()).containsEntry("region", "calls");
            assertThat(acq.granted()).containsOnlyKeys("call_count", "conn");
        }
        assertThat(pool.tryAcquire()).as("both conn permits held").isEmpty();

        LimitPool onlyRates = LimitPool.of(rates, rateSet("other", 10));
        assertThatThrownBy(onlyRates::acquire).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("empty request");
    }

    // ---- giving up leaves nothing taken -----------------------------------------------------------

    @Test
    void aTimeoutLeavesNothingTakenOnAnySet_L11_L22() {
        LimitSet a = resourceSet("a", 1);
        LimitSet b = resourceSet("b", 1);
        LimitPool pool = LimitPool.builder().add(a).add(b).clock(clock).build();
        Acquisition heldA = a.acquire(Request.of("conn", 1));
        Acquisition heldB = b.acquire(Request.of("conn", 1));

        assertThatThrownBy(() -> pool.acquire(Request.of("conn", 1), Duration.ZERO))
                .isInstanceOf(AcquireTimeoutException.class);
        Background<Acquisition> waiter = background(() -> pool.acquire(Request.of("conn", 1), Duration.ofSeconds(5)));
        awaitUntil(() -> a.stats().waiting() == 1 && b.stats().waiting() == 1, "waiting on both sets");
        clock.advanceNanos(Duration.ofSeconds(5).toNanos() - 1);
        assertThat(waiter.outcome).isNotDone();
        clock.advanceNanos(1);

        assertThat(waiter.failure()).isInstanceOf(AcquireTimeoutException.class)
                .hasMessageContaining("nothing was taken");
        awaitUntil(() -> a.stats().waiting() == 0 && b.stats().waiting() == 0, "waits withdrawn");
        heldA.close();
        heldB.close();
        assertThat(a.stats().key("conn").inUse()).isZero();
        assertThat(b.stats().key("conn").inUse()).isZero();
        assertThat(pool.poolStats().timedOut()).isEqualTo(2);
        assertThat(pool.stats().timedOut()).isEqualTo(2);
    }

    @Test
    void aTimeoutOnRateLimitsLeavesEveryUnitAvailable_L11_L22() {
        LimitSet a = rateSet("a", 1000);
        LimitSet b = rateSet("b", 1000);
        a.tryAcquire(Request.of("tpm", 995)).orElseThrow();
        b.tryAcquire(Request.of("tpm", 995)).orElseThrow();
        LimitPool pool = LimitPool.builder().add(a).add(b).clock(clock).build();

        Background<Acquisition> waiter = background(() -> pool.acquire(TEN_TPM, Duration.ofSeconds(1)));
        awaitUntil(() -> a.stats().waiting() == 1 && b.stats().waiting() == 1, "waiting on both sets");
        clock.advance(Duration.ofSeconds(1));
        assertThat(waiter.failure()).isInstanceOf(AcquireTimeoutException.class);

        awaitUntil(() -> a.stats().waiting() == 0 && b.stats().waiting() == 0, "waits withdrawn");
        clock.advance(MINUTE);
        assertThat(a.stats().key("tpm").available()).isEqualTo(1000);
        assertThat(b.stats().key("tpm").available()).isEqualTo(1000);
        assertThat(a.stats().granted() + b.stats().granted()).isEqualTo(2);
    }

    @Test
    void anInterruptLeavesNothingTakenAndKeepsTheInterruptStatus_L11_L22() {
        LimitSet a = resourceSet("a", 1);
        LimitSet b = resourceSet("b", 1);
        LimitPool pool = LimitPool.of(a, b);
        Acquisition heldA = a.acquire(Request.of("conn", 1));
        Acquisition heldB = b.acquire(Request.of("conn", 1));
        AtomicBoolean stillInterrupted = new AtomicBoolean();

        Background<Acquisition> waiter = background(() -> {
            try {
                return pool.acquire(Request.of("conn", 1));
            } finally {
                stillInterrupted.set(Thread.currentThread().isInterrupted());
            }
        });
        awaitUntil(() -> a.stats().waiting() == 1 && b.stats().waiting() == 1, "waiting on both sets");
        waiter.thread.interrupt();

        assertThat(waiter.failure()).isInstanceOf(AcquireInterruptedException.class);
        assertThat(stillInterrupted).isTrue();
        awaitUntil(() -> a.stats().waiting() == 0 && b.stats().waiting() == 0, "waits withdrawn");
        heldA.close();
        heldB.close();
        assertThat(a.stats().key("conn").inUse()).isZero();
        assertThat(b.stats().key("conn").inUse()).isZero();
        assertThat(pool.poolStats().dispatched()).isZero();
    }

    @Test
    void cancellingAnAsyncAcquisitionLeavesNothingTaken_L11_L22() {
        LimitSet a = resourceSet("a", 1);
        LimitSet b = resourceSet("b", 1);
        LimitPool pool = LimitPool.of(a, b);
        Acquisition heldA = a.acquire(Request.of("conn", 1));
        Acquisition heldB = b.acquire(Request.of("conn", 1));

        CompletableFuture<Acquisition> future = pool.acquireAsync(Request.of("conn", 1));
        assertThat(a.stats().waiting()).isEqualTo(1);
        assertThat(b.stats().waiting()).isEqualTo(1);
        assertThat(future.cancel(false)).isTrue();

        assertThat(a.stats().waiting()).isZero();
        assertThat(b.stats().waiting()).isZero();
        heldA.close();
        heldB.close();
        assertThat(a.stats().key("conn").inUse()).isZero();
        assertThat(b.stats().key("conn").inUse()).isZero();
        assertThat(pool.poolStats().dispatched()).isZero();
    }

    @Test
    void manyThreadsAcquiringTimingOutAndCancellingNeverOverHoldAndLeaveNothingTaken_L11_L22() throws Exception {
        LimitSet a = resourceSet("a", 2);
        LimitSet b = resourceSet("b", 3);
        LimitPool pool = LimitPool.of(a, b);        // timeouts on the system clock: real races
        Map<String, AtomicInteger> holding = Map.of("a", new AtomicInteger(), "b", new AtomicInteger());
        Map<String, Integer> capacity = Map.of("a", 2, "b", 3);
        AtomicReference<String> violation = new AtomicReference<>();
        Request conn = Request.of("conn", 1);
        long seed = System.nanoTime();

        try (var threads = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < 16; t++) {
                Random random = new Random(seed + t);
                done.add(threads.submit(() -> {
                    for (int i = 0; i < 200; i++) {
                        Acquisition acq = null;
                        try {
                            switch (random.nextInt(4)) {
                                case 0 -> acq = pool.acquire(conn);
                                case 1 -> acq = pool.acquire(conn, Duration.ofNanos(random.nextInt(200_000)));
                                case 2 -> acq = pool.tryAcquire(conn).orElse(null);
                                default -> {
                                    CompletableFuture<Acquisition> future = pool.acquireAsync(conn);
                                    if (random.nextBoolean()) {
                                        future.cancel(false);
                                    }
                                    if (!future.isCancelled()) {
                                        acq = future.join();
                                    }
                                }
                            }
                        } catch (AcquireTimeoutException | CancellationException e) {
                            continue;
                        }
                        if (acq == null) {
                            continue;
                        }
                        String region = acq.config().get("region");
                        if (holding.get(region).incrementAndGet() > capacity.get(region)) {
                            violation.compareAndSet(null, "over-held " + region);
                        }
                        Thread.yield();
                        holding.get(region).decrementAndGet();
                        acq.close();
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(20, TimeUnit.SECONDS);
            }
        }

        assertThat(violation.get()).as("seed %d", seed).isNull();
        awaitUntil(() -> a.stats().waiting() == 0 && b.stats().waiting() == 0, "no wait left (seed " + seed + ")");
        awaitUntil(() -> a.stats().key("conn").inUse() == 0 && b.stats().key("conn").inUse() == 0,
                "every permit back (seed " + seed + ")");
        assertThat(pool.poolStats().dispatched()).isPositive();
    }

    // ---- stats -----------------------------------------------------------------------------------

    @Test
    void statsSumEveryKeyOverTheSetsThatHaveItAndPoolStatsShowEachSet_L15_L21() {
        LimitSet a = rateSet("a", 1000);
        LimitSet b = track(LimitSet.builder().add(RateLimit.of("tpm", 500, MINUTE)).add(ResourceLimit.of("conn", 3))
                .config("region", "b").backend(backend(clock)).build());
        LimitPool pool = LimitPool.builder().add(a).add(b).balancing(PoolBalancing.ROUND_ROBIN).build();

        pool.acquire(Request.of("tpm", 100));
        pool.acquire(Request.of("tpm", 50));
        pool.acquire(Request.of("conn", 2));

        LimitStats stats = pool.stats();
        assertThat(stats.keys()).containsOnlyKeys("tpm", "conn");
        assertThat(stats.key("tpm").capacity()).isEqualTo(1500);
        assertThat(stats.key("tpm").inUse()).isEqualTo(150);
        assertThat(stats.key("tpm").available()).isEqualTo(1350);
        assertThat(stats.key("conn").capacity()).isEqualTo(3);
        assertThat(stats.key("conn").inUse()).isEqualTo(2);
        assertThat(stats.granted()).isEqualTo(3);
        assertThat(stats.waiting()).isZero();

        LimitPoolStats poolStats = pool.poolStats();
        assertThat(poolStats.balancing()).isEqualTo(PoolBalancing.ROUND_ROBIN);
        assertThat(poolStats.sets()).extracting(LimitPoolStats.SetStats::config)
                .containsExactly(Map.of("region", "a"), Map.of("region", "b"));
        assertThat(poolStats.sets()).extracting(LimitPoolStats.SetStats::dispatched).containsExactly(1L, 2L);
        assertThat(poolStats.sets().get(1).stats().key("tpm").inUse()).isEqualTo(50);
        assertThat(poolStats.dispatched()).isEqualTo(3);
    }

    // ---- construction ----------------------------------------------------------------------------

    @Test
    void anEmptyPoolNullSetsAndDuplicateSetsAreRejectedAtConstruction_L21() {
        LimitSet a = rateSet("a", 10);

        assertThatThrownBy(LimitPool::of).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least one LimitSet");
        assertThatThrownBy(() -> LimitPool.builder().build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("at least one LimitSet");
        assertThatThrownBy(() -> LimitPool.of((LimitSet[]) null)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> LimitPool.of(a, null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("set #1").hasMessageContaining("null");
        assertThatThrownBy(() -> LimitPool.builder().add(a).add(a).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(a.name()).hasMessageContaining("twice");
        assertThatThrownBy(() -> LimitPool.builder().balancing(null)).isInstanceOf(IllegalArgumentException.class);
        assertThat(LimitPool.of(a).sets()).containsExactly(a);
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private LimitSet rateSet(String region, double tpm) {
        return track(LimitSet.builder().add(RateLimit.of("tpm", tpm, MINUTE)).config("region", region)
                .name("pool-test-" + region + "-" + NAMES.incrementAndGet()).backend(backend(clock)).build());
    }

    private LimitSet resourceSet(String region, int permits) {
        return track(LimitSet.builder().add(ResourceLimit.of("conn", permits)).config("region", region)
                .name("pool-test-" + region + "-" + NAMES.incrementAndGet()).backend(backend(clock)).build());
    }

    /** Waits (bounded) for a condition other threads make true; not a timing assertion. */
    private static void awaitUntil(BooleanSupplier condition, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting until " + what);
            }
            Thread.onSpinWait();
            Thread.yield();
        }
    }

    private static <T> Background<T> background(Supplier<T> action) {
        CompletableFuture<T> outcome = new CompletableFuture<>();
        Thread thread = Thread.ofPlatform().daemon().start(() -> {
            try {
                outcome.complete(action.get());
            } catch (Throwable t) {
                outcome.completeExceptionally(t);
            }
        });
        return new Background<>(thread, outcome);
    }

    /** An action running on its own thread. */
    private record Background<T>(Thread thread, CompletableFuture<T> outcome) {
        T join() {
            return outcome.orTimeout(10, TimeUnit.SECONDS).join();
        }

        Throwable failure() {
            try {
                outcome.get(10, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
                return e.getCause();
            } catch (Exception e) {
                throw new AssertionError("no outcome", e);
            }
            throw new AssertionError("expected a failure, got " + outcome.join());
        }
    }
}
