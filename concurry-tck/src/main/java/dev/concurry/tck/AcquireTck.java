package dev.concurry.tck;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.AcquireInterruptedException;
import dev.concurry.limit.AcquireTimeoutException;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.LimitStats;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** SPEC L8 (all or nothing), L11 (the ways to acquire) and L12 (fair, exact waiting). */
public abstract class AcquireTck extends BackendTck {
    private static final Request CONN = Request.of("db_conn", 1);

    /** 10 tokens per second (token bucket: refills 1 per 100 ms) and one connection. */
    private LimitSet tokensAndConn() {
        return set(RateLimit.of("tokens", 10, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET),
                ResourceLimit.of("db_conn", 1));
    }

    // ---- L8 ----------------------------------------------------------------------------------

    @Test
    @DisplayName("L8 all or nothing: one of three limits short means nothing is taken from the other two")
    void L8_acquisition_is_atomic_across_three_limits() {
        LimitSet set = set(RateLimit.of("requests", 10, Duration.ofSeconds(1)),
                RateLimit.of("tokens", 100, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET),
                ResourceLimit.of("db_conn", 2));
        Acquisition held = granted(set, Request.of("db_conn", 2));
        LimitStats before = set.stats();
        Request all = Request.of("requests", 1).and("tokens", 50).and("db_conn", 1);
        refused(set, all);
        assertThatThrownBy(() -> set.acquire(all, Duration.ZERO)).isInstanceOf(AcquireTimeoutException.class);
        assertThat(set.stats().keys()).as("no key changed").isEqualTo(before.keys());
        assertThat(set.stats().granted()).isEqualTo(before.granted());
        held.close();
        try (Acquisition acq = granted(set, all)) {
            assertThat(acq.granted()).containsOnlyKeys("requests", "tokens", "db_conn");
            assertThat(set.stats().key("requests").inUse()).isEqualTo(1);
            assertThat(set.stats().key("tokens").inUse()).isEqualTo(50);
            assertThat(set.stats().key("db_conn").inUse()).isEqualTo(1);
        }
    }

    // ---- L11 ---------------------------------------------------------------------------------

    @Test
    @DisplayName("L11 acquire blocks until granted")
    void L11_acquire_blocks_until_granted() {
        LimitSet set = tokensAndConn();
        Acquisition held = granted(set, CONN);
        Future<Acquisition> waiter = blockingAcquire(set, CONN);
        advanceTo(10 * SECOND);
        assertThat(waiter).as("a resource is freed by a release, not by time").isNotDone();
        held.close();
        await(waiter).close();
        assertThat(set.stats().key("db_conn").inUse()).isZero();
    }

    @Test
    @DisplayName("L11 acquire(timeout) times out exactly at the deadline, nothing taken, counted in stats")
    void L11_acquire_with_timeout_times_out_at_deadline() {
        LimitSet set = tokensAndConn();
        granted(set, Request.of("tokens", 10));         // 5 tokens come back at 500 ms
        Future<Acquisition> waiter = onAnotherThread(
                () -> set.acquire(Request.of("tokens", 5), Duration.ofMillis(300)));
        awaitWaiting(set, 1);
        advanceTo(300 * MS - 1);
        assertThat(set.stats().waiting()).isEqualTo(1);
        advanceTo(300 * MS);
        assertThat(failureOf(waiter)).isInstanceOf(AcquireTimeoutException.class);
        LimitStats stats = set.stats();
        assertThat(stats.timedOut()).isEqualTo(1);
        assertThat(stats.waiting()).isZero();
        assertThat(stats.key("tokens").available()).as("3 tokens refilled, none taken").isEqualTo(3);
        // A timeout long enough is granted at 500 ms + 300 ms = 800 ms.
        Future<Acquisition> patient = onAnotherThread(
                () -> set.acquire(Request.of("tokens", 8), Duration.ofSeconds(1)));
        awaitWaiting(set, 1);
        advanceTo(800 * MS);
        await(patient);
        assertThat(set.stats().timedOut()).isEqualTo(1);
    }

    @Test
    @DisplayName("L11 acquire with a zero timeout fails at once when it would wait")
    void L11_acquire_with_zero_timeout_fails_at_once() {
        LimitSet set = tokensAndConn();
        Acquisition held = granted(set, CONN);
        assertThatThrownBy(() -> set.acquire(CONN, Duration.ZERO)).isInstanceOf(AcquireTimeoutException.class);
        assertThat(set.stats().timedOut()).isEqualTo(1);
        held.close();
        set.acquire(CONN, Duration.ZERO).close();
    }

    @Test
    @DisplayName("L11 tryAcquire never blocks: empty when it cannot be granted now")
    void L11_try_acquire_never_blocks() {
        LimitSet set = tokensAndConn();
        Acquisition held = granted(set, CONN);
        Future<Boolean> attempt = onAnotherThread(() -> set.tryAcquire(CONN).isPresent());
        assertThat(await(attempt)).isFalse();
        assertThat(set.stats().waiting()).isZero();
        held.close();
        granted(set, CONN).close();
    }

    @Test
    @DisplayName("L11 acquireAsync completes when granted and holds no waiting thread")
    void L11_acquire_async_completes_when_granted() {
        LimitSet set = tokensAndConn();
        CompletableFuture<Acquisition> now = set.acquireAsync(CONN);
        Acquisition first = await(now);
        CompletableFuture<Acquisition> later = asyncAcquire(set, CONN);
        assertThat(later).isNotDone();
        first.close();
        await(later).close();
        assertThat(set.stats().key("db_conn").inUse()).isZero();
    }

    @Test
    @DisplayName("L11 cancelling an async acquisition leaves nothing taken and lets the next waiter through")
    void L11_cancelled_async_acquisition_takes_nothing() {
        LimitSet set = tokensAndConn();
        granted(set, Request.of("tokens", 10));
        CompletableFuture<Acquisition> big = asyncAcquire(set, Request.of("tokens", 6));    // due at 600 ms
        CompletableFuture<Acquisition> small = asyncAcquire(set, Request.of("tokens", 1));  // FIFO: behind it
        big.cancel(true);
        awaitWaiting(set, 1);
        // Without the cancelled waiter ahead, the small one is due at 100 ms.
        advanceTo(100 * MS - 1);
        assertThat(small).isNotDone();
        advanceTo(100 * MS);
        await(small);
        advanceTo(1 * SECOND);
        assertThat(set.stats().key("tokens").available()).as("the cancelled request took nothing").isEqualTo(9);
        assertThat(big).isCancelled();
    }

    @Test
    @DisplayName("L11 cancelling an async wait for a resource takes nothing; the release goes to the next waiter")
    void L11_cancelled_resource_waiter_takes_nothing() {
        LimitSet set = tokensAndConn();
        Acquisition held = granted(set, CONN);
        CompletableFuture<Acquisition> first = asyncAcquire(set, CONN);
        CompletableFuture<Acquisition> second = asyncAcquire(set, CONN);
        first.cancel(false);
        awaitWaiting(set, 1);
        held.close();
        Acquisition next = await(second);
        assertThat(set.stats().key("db_conn").inUse()).isEqualTo(1);
        next.close();
        assertThat(set.stats().key("db_conn").inUse()).isZero();
    }

    @Test
    @DisplayName("L11 interrupting a blocked acquirer: AcquireInterruptedException, interrupt kept, nothing taken")
    void L11_interrupt_leaves_nothing_taken() {
        LimitSet set = tokensAndConn();
        Acquisition held = granted(set, CONN);
        AtomicReference<Thread> thread = new AtomicReference<>();
        Future<Boolean> interrupted = onAnotherThread(() -> {
            thread.set(Thread.currentThread());
            try {
                set.acquire(CONN.and("tokens", 1));
                return false;
            } catch (AcquireInterruptedException e) {
                return Thread.currentThread().isInterrupted();
            } finally {
                Thread.interrupted();
            }
        });
        awaitWaiting(set, 1);
        thread.get().interrupt();
        assertThat(await(interrupted)).as("AcquireInterruptedException thrown with the interrupt flag kept").isTrue();
        LimitStats stats = set.stats();
        assertThat(stats.waiting()).isZero();
        assertThat(stats.key("db_conn").inUse()).isEqualTo(1);
        assertThat(stats.key("tokens").inUse()).isZero();
        held.close();
        assertThat(set.stats().key("db_conn").inUse()).isZero();
    }

    // ---- L12 ---------------------------------------------------------------------------------

    @Test
    @DisplayName("L12 waiters on one key are served first come first served: a large request is not starved")
    void L12_waiters_are_served_first_come_first_served() {
        LimitSet set = tokensAndConn();
        granted(set, Request.of("tokens", 10));
        CompletableFuture<Acquisition> large = asyncAcquire(set, Request.of("tokens", 10));   // due at 1 s
        List<CompletableFuture<Acquisition>> small = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            small.add(asyncAcquire(set, Request.of("tokens", 1)));
        }
        // Tokens refill one by one, but none goes to the small waiters queued behind the large one,
        // nor to a tryAcquire barging in.
        for (long t = 100 * MS; t < 1 * SECOND; t += 100 * MS) {
            advanceTo(t);
            refused(set, Request.of("tokens", 1));
            assertThat(set.stats().waiting()).isEqualTo(6);
        }
        advanceTo(1 * SECOND);
        await(large);
        for (int i = 0; i < 5; i++) {
            long due = (11 + i) * 100 * MS;
            advanceTo(due - 1);
            assertThat(set.stats().waiting()).as("waiting 1 ns before %d ms", due / MS).isEqualTo(5 - i);
            advanceTo(due);
            await(small.get(i));
            for (int j = i + 1; j < 5; j++) {
                assertThat(small.get(j)).as("small waiter %d served before %d", j, i).isNotDone();
            }
        }
    }

    @Test
    @DisplayName("L12 a waiter short of tokens does not hold up a request needing only db_conn")
    void L12_waiter_for_one_key_does_not_block_another_key() {
        LimitSet set = tokensAndConn();
        granted(set, Request.of("tokens", 10));
        CompletableFuture<Acquisition> tokens = asyncAcquire(set, Request.of("tokens", 5));
        try (Acquisition conn = granted(set, CONN)) {
            assertThat(conn.granted()).containsOnlyKeys("db_conn");
            assertThat(set.stats().key("db_conn").inUse()).isEqualTo(1);
        }
        Future<Acquisition> blocking = onAnotherThread(() -> set.acquire(CONN));
        await(blocking).close();
        assertThat(tokens).isNotDone();
        advanceTo(500 * MS);
        await(tokens);
    }

    @Test
    @DisplayName("L12 a release wakes a waiter at once, without the clock moving")
    void L12_release_wakes_waiter_immediately() {
        LimitSet set = tokensAndConn();
        Acquisition held = granted(set, CONN);
        Future<Acquisition> blocked = blockingAcquire(set, CONN);
        CompletableFuture<Acquisition> async = asyncAcquire(set, CONN);
        long before = clock.nanoTime();
        held.close();
        Acquisition second = await(blocked);
        assertThat(async).isNotDone();
        second.close();
        await(async).close();
        assertThat(clock.nanoTime()).isEqualTo(before);
    }

    @Test
    @DisplayName("L12 a refund wakes a waiter at once, without the clock moving")
    void L12_refund_wakes_waiter_immediately() {
        LimitSet set = set(RateLimit.of("tokens", 10, Duration.ofSeconds(1)));
        Acquisition acq = granted(set, Request.of("tokens", 10));
        Future<Acquisition> waiter = blockingAcquire(set, Request.of("tokens", 4));
        acq.update("tokens", 6);
        acq.close();
        await(waiter);
        assertThat(clock.nanoTime()).isZero();
    }
}
