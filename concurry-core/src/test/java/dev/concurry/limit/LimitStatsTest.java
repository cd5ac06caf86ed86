package dev.concurry.limit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.time.ManualClock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class LimitStatsTest {
    private final ManualClock clock = new ManualClock();

    @Test
    void cumulativeTotalsCountGrantsSettlementsPerKeyRejectionsTimeoutsAndWaits_L15_P2() {
        LimitSet set = LimitSet.builder()
                .add(RateLimit.of("tokens", 1000, Duration.ofMinutes(1)))
                .add(ResourceLimit.of("conn", 1))
                .backend(Backends.inMemory(clock)).build();

        set.acquire(Request.of("tokens", 100)).update("tokens", 40).close();      // refunds 60
        set.acquire(Request.of("tokens", 100)).update("tokens", 150).close();     // charges 50
        Acquisition held = set.acquire(Request.of("conn", 1));
        assertThat(set.tryAcquire(Request.of("conn", 1))).isEmpty();
        assertThatThrownBy(() -> set.acquire(Request.of("conn", 1), Duration.ZERO))
                .isInstanceOf(AcquireTimeoutException.class);
        CompletableFuture<Acquisition> waiter = set.acquireAsync(Request.of("conn", 1));
        assertThat(set.stats().waits()).as("not granted yet").isZero();
        clock.advance(Duration.ofSeconds(2));
        held.close();
        waiter.join().close();

        LimitStats stats = set.stats();
        assertThat(stats.granted()).isEqualTo(4);
        assertThat(stats.refunded()).isEqualTo(60);
        assertThat(stats.charged()).isEqualTo(50);
        assertThat(stats.timedOut()).isEqualTo(1);
        assertThat(stats.rejected()).isEqualTo(1);
        assertThat(stats.waits()).isEqualTo(1);
        assertThat(stats.waitedNanos()).isEqualTo(Duration.ofSeconds(2).toNanos());
        assertThat(stats.key("tokens").refunded()).isEqualTo(60);
        assertThat(stats.key("tokens").charged()).isEqualTo(50);
        assertThat(stats.key("conn").refunded()).isZero();
        assertThat(stats.key("conn").charged()).isZero();
    }

    @Test
    void aPoolCountsItsOwnRejectionsOnceAndSumsTheSetsWaits_L21() {
        LimitSet a = LimitSet.builder().add(ResourceLimit.of("conn", 1)).backend(Backends.inMemory(clock)).build();
        LimitSet b = LimitSet.builder().add(ResourceLimit.of("conn", 1)).backend(Backends.inMemory(clock)).build();
        LimitPool pool = LimitPool.builder().add(a).add(b).clock(clock).build();
        Acquisition first = pool.acquire(Request.of("conn", 1));
        Acquisition second = pool.acquire(Request.of("conn", 1));

        assertThat(pool.tryAcquire(Request.of("conn", 1))).isEmpty();
        CompletableFuture<Acquisition> waiter = pool.acquireAsync(Request.of("conn", 1));
        clock.advance(Duration.ofSeconds(3));
        first.close();
        waiter.join().close();
        second.close();

        assertThat(pool.stats().rejected()).isEqualTo(1);
        assertThat(pool.poolStats().rejected()).isEqualTo(1);
        assertThat(a.stats().rejected() + b.stats().rejected()).as("the pool's vain tries of each set").isEqualTo(4);
        assertThat(pool.stats().waits()).isEqualTo(1);
        assertThat(pool.stats().waitedNanos()).isEqualTo(Duration.ofSeconds(3).toNanos());
    }
}
