package dev.concurry.limit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.time.ManualClock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * SPEC L24 on the in-memory backend and a manual clock: a key's state is dropped exactly when dropping
 * it changes nothing — never while a permit is held, a debt is owed, a window still counts, someone waits
 * or an acquisition is open — and {@code maxKeys} never makes a key more generous.
 *
 * <p>Timing: with {@code evictIdleAfter} = 100 ms a released key is first examined 100 ms after its
 * release, kept until the instant its state is back to initial, marked there, and dropped one tick (100 ms)
 * later if nobody used it.
 */
class KeyedEvictionTest {
    private static final long MS = 1_000_000L;
    private static final Request ONE = Request.of("units", 1);
    private final ManualClock clock = new ManualClock();
    private KeyedLimits<String> family;

    @AfterEach
    void close() {
        if (family != null) {
            family.close();
        }
    }

    private KeyedLimits<String> family(Limit... limits) {
        KeyedLimits.Builder<String> builder = KeyedLimits.<String>builder().name("customers")
                .backend(Backends.inMemory(clock)).evictIdleAfter(Duration.ofMillis(100));
        for (Limit limit : limits) {
            builder.add(limit);
        }
        family = builder.build();
        return family;
    }

    private void advanceTo(long nanos) {
        clock.advanceNanos(nanos - clock.nanoTime());
    }

    private long keys() {
        return family.keyedStats().keys();
    }

    @Test
    @DisplayName("L24 a token bucket unused for a tick is dropped the instant it is full again, not a nanosecond earlier")
    void L24_bucket_dropped_once_full_again() {
        family(RateLimit.of("units", 10, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET));
        // 10 units at 0: marked at 100 ms, dormant at 200 ms (unused for a tick), full again and dropped at 1 s.
        for (int i = 0; i < 10; i++) {
            family.tryAcquire("acme", ONE).orElseThrow().close();
        }
        assertThat(family.tryAcquire("acme", ONE)).isEmpty();
        advanceTo(999_999_999);
        assertThat(keys()).as("still held 1 ns before it is full").isEqualTo(1);
        advanceTo(1_000 * MS);
        assertThat(keys()).isZero();
        assertThat(family.keyedStats().evicted()).isEqualTo(1);
        assertThat(family.stats("acme").granted()).as("a dropped key reports a fresh state").isZero();
    }

    @Test
    @DisplayName("L24 a dormant key (unused, still counting) keeps its state; its next use counts from it")
    void L24_dormant_key_keeps_its_state() {
        family(RateLimit.of("units", 10, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET));
        for (int i = 0; i < 10; i++) {
            family.tryAcquire("acme", ONE).orElseThrow().close();
        }
        advanceTo(500 * MS);                           // dormant since 200 ms: 5 tokens back, no more
        assertThat(keys()).isEqualTo(1);
        assertThat(family.stats("acme").key("units").available()).isEqualTo(5);
        assertThat(family.stats("acme").granted()).as("a new engine counts from 0").isZero();
        assertThat(grants("acme", 20)).isEqualTo(5);
        assertThat(family.stats("acme").granted()).isEqualTo(5);
    }

    private int grants(String key, int max) {
        int n = 0;
        while (n < max && family.tryAcquire(key, ONE).map(acq -> {
            acq.close();
            return true;
        }).orElse(false)) {
            n++;
        }
        return n;
    }

    @Test
    @DisplayName("L24 a use during the idle tick keeps the key: it is dropped only after a full unused tick")
    void L24_a_use_restarts_the_idle_tick() {
        family(RateLimit.of("units", 1000, Duration.ofSeconds(1), RateAlgorithm.GCRA));
        family.tryAcquire("acme", ONE).orElseThrow().close();          // full again at 1 ms
        advanceTo(150 * MS);                                             // examined at 100 ms: idle, marked
        family.tryAcquire("acme", ONE).orElseThrow().close();          // used: the mark is gone
        advanceTo(200 * MS);
        assertThat(keys()).as("used since it was marked").isEqualTo(1);
        advanceTo(300 * MS);                                             // marked at 200, dropped at 300
        assertThat(keys()).isZero();
    }

    @Test
    @DisplayName("L24 a sliding window is kept while any grant still counts in it")
    void L24_sliding_window_kept_while_counting() {
        family(RateLimit.of("units", 10, Duration.ofSeconds(1)));
        family.tryAcquire("acme", Request.of("units", 4)).orElseThrow().close();
        advanceTo(700 * MS);
        family.tryAcquire("acme", Request.of("units", 6)).orElseThrow().close();   // counts until 1.7 s
        advanceTo(1_500 * MS);
        assertThat(keys()).isEqualTo(1);
        assertThat(family.tryAcquire("acme", Request.of("units", 5))).as("the 6 units still count").isEmpty();
        advanceTo(1_799 * MS);
        assertThat(keys()).as("idle at 1.7 s, marked then, dropped at 1.8 s").isEqualTo(1);
        advanceTo(1_800 * MS);
        assertThat(keys()).isZero();
    }

    @Test
    @DisplayName("L24 a fixed window is kept until its window ends")
    void L24_fixed_window_kept_until_its_window_ends() {
        family(RateLimit.of("units", 10, Duration.ofSeconds(1), RateAlgorithm.FIXED_WINDOW));
        advanceTo(300 * MS);
        family.tryAcquire("acme", Request.of("units", 10)).orElseThrow().close();
        advanceTo(999 * MS);
        assertThat(family.tryAcquire("acme", ONE)).isEmpty();
        advanceTo(1_099 * MS);
        assertThat(keys()).isEqualTo(1);
        advanceTo(1_100 * MS);
        assertThat(keys()).isZero();
    }

    @Test
    @DisplayName("L24/L5 a fixed window key created again keeps the family's window boundaries")
    void L24_recreated_fixed_window_keeps_its_boundaries() {
        family(RateLimit.of("units", 10, Duration.ofSeconds(1), RateAlgorithm.FIXED_WINDOW));
        advanceTo(300 * MS);
        family.tryAcquire("acme", Request.of("units", 10)).orElseThrow().close();
        advanceTo(1_600 * MS);
        assertThat(keys()).as("dropped at 1.1 s").isZero();
        // Created again at 1.6 s, in the window [1 s, 2 s) that the family's keys share: a new window at
        // 2 s, not at 2.6 s (which would let 10 more pass in [2 s, 2.6 s) than the old state allowed).
        family.tryAcquire("acme", Request.of("units", 10)).orElseThrow().close();
        advanceTo(1_999 * MS);
        assertThat(family.tryAcquire("acme", ONE)).isEmpty();
        advanceTo(2_000 * MS);
        assertThat(family.tryAcquire("acme", Request.of("units", 10))).isPresent();
    }

    @Test
    @DisplayName("L24 a held permit keeps its key for as long as it is held, however long")
    void L24_held_permit_keeps_the_key() {
        family(ResourceLimit.of("jobs", 2));
        Acquisition job = family.tryAcquire("acme", Request.of("jobs", 2)).orElseThrow();
        advanceTo(3_600_000 * MS);
        assertThat(keys()).isEqualTo(1);
        assertThat(family.tryAcquire("acme", Request.of("jobs", 1))).as("both permits are still held").isEmpty();
        job.close();
        long released = clock.nanoTime();
        advanceTo(released + 199 * MS);
        assertThat(keys()).isEqualTo(1);
        advanceTo(released + 200 * MS);
        assertThat(keys()).isZero();
        assertThat(family.tryAcquire("acme", Request.of("jobs", 2))).isPresent();
    }

    @Test
    @DisplayName("L24/L13 a debt is never forgiven: an overcharged bucket is kept until it is paid back")
    void L24_debt_is_never_forgiven() {
        family(RateLimit.of("units", 10, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET));
        try (Acquisition acq = family.tryAcquire("acme", ONE).orElseThrow()) {
            acq.update("units", 40);                  // 10 - 40 = -30 tokens, 10 a second: full again at 4 s
        }
        advanceTo(2_900 * MS);
        assertThat(keys()).isEqualTo(1);
        assertThat(family.stats("acme").key("units").available()).isCloseTo(-1, Offset.offset(1e-9));
        assertThat(family.tryAcquire("acme", ONE)).isEmpty();
        advanceTo(4_099 * MS);
        assertThat(keys()).isEqualTo(1);
        advanceTo(4_100 * MS);
        assertThat(keys()).isZero();
    }

    @Test
    @DisplayName("L24/L13 an open acquisition keeps its key: its later overuse is charged, not forgiven")
    void L24_open_acquisition_keeps_the_key_and_its_charge() {
        family(RateLimit.of("units", 10, Duration.ofSeconds(1), RateAlgorithm.GCRA));
        Acquisition open = family.tryAcquire("acme", ONE).orElseThrow();     // full again at 100 ms
        advanceTo(60_000 * MS);
        assertThat(keys()).as("the acquisition is still open").isEqualTo(1);
        // Used 21: 20 more than granted, charged now: -10 tokens; one is back after 11 refills of 100 ms.
        open.update("units", 21).close();
        assertThat(family.stats("acme").key("units").available()).isCloseTo(-10, Offset.offset(1e-9));
        advanceTo(61_099 * MS);
        assertThat(family.tryAcquire("acme", ONE)).isEmpty();
        advanceTo(61_100 * MS);
        assertThat(family.tryAcquire("acme", ONE)).isPresent();
    }

    @Test
    @DisplayName("L24/F3 a provider's pause keeps the key until it ends, though the bucket is full")
    void L24_provider_pause_keeps_the_key() {
        family(RateLimit.of("units", 1000, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET));
        // A 429 with Retry-After 5 s, heard through an acquisition of the key: only that key pauses.
        try (Acquisition call = family.tryAcquire("acme", ONE).orElseThrow()) {
            call.observe(ProviderReport.builder().retryAfter(Duration.ofSeconds(5)).build());
        }
        assertThat(family.tryAcquire("globex", ONE)).isPresent().get().satisfies(Acquisition::close);
        advanceTo(4_999 * MS);
        assertThat(keys()).as("acme paused, globex dropped").isEqualTo(1);
        assertThat(family.tryAcquire("acme", ONE)).as("still paused").isEmpty();
        advanceTo(5_000 * MS);
        assertThat(family.tryAcquire("acme", ONE)).isPresent().get().satisfies(Acquisition::close);
    }

    @Test
    @DisplayName("L24 a waiter keeps its key; once granted and closed, the key goes")
    void L24_waiter_keeps_the_key() {
        family(ResourceLimit.of("jobs", 1));
        Acquisition held = family.tryAcquire("acme", Request.of("jobs", 1)).orElseThrow();
        CompletableFuture<Acquisition> waiter = family.acquireAsync("acme", Request.of("jobs", 1));
        held.close();
        Acquisition granted = waiter.join();
        advanceTo(10_000 * MS);
        assertThat(keys()).isEqualTo(1);
        granted.close();
        advanceTo(10_200 * MS);
        assertThat(keys()).isZero();
    }

    @Test
    @DisplayName("L24 a cancelled waiter leaves nothing taken and does not keep its key")
    void L24_cancelled_waiter_releases_its_key() {
        family(ResourceLimit.of("jobs", 1));
        Acquisition held = family.tryAcquire("acme", Request.of("jobs", 1)).orElseThrow();
        CompletableFuture<Acquisition> waiter = family.acquireAsync("acme", Request.of("jobs", 1));
        assertThat(family.stats("acme").waiting()).isEqualTo(1);
        waiter.cancel(false);
        assertThat(family.stats("acme").waiting()).isZero();
        held.close();
        assertThat(family.stats("acme").key("jobs").inUse()).isZero();
        advanceTo(200 * MS);
        assertThat(keys()).isZero();
    }

    @Test
    @DisplayName("L24 maxKeys: a new key beyond it is refused while every key still counts, nothing dropped")
    void L24_max_keys_refuses_when_no_key_is_idle() {
        KeyedLimits.Builder<String> builder = KeyedLimits.<String>builder().name("ips")
                .add(RateLimit.of("units", 10, Duration.ofSeconds(1))).backend(Backends.inMemory(clock))
                .evictIdleAfter(Duration.ofHours(1)).maxKeys(2);
        family = builder.build();
        family.tryAcquire("a", ONE).orElseThrow().close();
        advanceTo(500 * MS);
        family.tryAcquire("b", ONE).orElseThrow().close();
        assertThatThrownBy(() -> family.tryAcquire("c", ONE))
                .isInstanceOf(TooManyKeysException.class)
                .hasMessageContaining("keyed limits 'ips' refused the new key c")
                .hasMessageContaining("maximum of 2 keys and none is idle")
                .hasMessageContaining("Raise maxKeys");
        assertThat(family.keyedStats()).isEqualTo(new KeyedStats(2, 2, 0, 1));
        family.tryAcquire("a", ONE).orElseThrow().close();                 // a held key is still served
        // 'a' took its second unit at 500 ms: its window counts until 1.5 s; 'b' until 1.5 s too.
        advanceTo(1_499 * MS);
        assertThatThrownBy(() -> family.tryAcquire("c", ONE)).isInstanceOf(TooManyKeysException.class);
        advanceTo(1_500 * MS);
        assertThat(family.tryAcquire("c", ONE)).as("idle keys are dropped at once under pressure").isPresent();
        assertThat(family.keyedStats().evicted()).isEqualTo(2);
        assertThat(family.keyedStats().keys()).isEqualTo(1);
    }

    @Test
    @DisplayName("L24 maxKeys with a held permit: the key holding it is never the one dropped")
    void L24_max_keys_never_drops_a_held_permit() {
        family = KeyedLimits.<String>builder().add(ResourceLimit.of("jobs", 1)).backend(Backends.inMemory(clock))
                .evictIdleAfter(Duration.ofHours(1)).maxKeys(1).build();
        Acquisition held = family.tryAcquire("a", Request.of("jobs", 1)).orElseThrow();
        assertThatThrownBy(() -> family.tryAcquire("b", Request.of("jobs", 1)))
                .isInstanceOf(TooManyKeysException.class);
        assertThat(family.tryAcquire("a", Request.of("jobs", 1))).as("a's permit is still taken").isEmpty();
        held.close();
        assertThat(family.tryAcquire("b", Request.of("jobs", 1))).isPresent();
    }

    @Test
    @DisplayName("L24 a key dropped and used again starts from its initial state, which it had reached anyway")
    void L24_recreated_key_starts_full() {
        family(RateLimit.of("units", 3, Duration.ofSeconds(1), RateAlgorithm.LEAKY_BUCKET));
        family.tryAcquire("acme", ONE).orElseThrow().close();
        assertThat(family.tryAcquire("acme", ONE)).as("leaky: one every 333 ms").isEmpty();
        advanceTo(10_000 * MS);
        assertThat(keys()).isZero();
        family.tryAcquire("acme", ONE).orElseThrow().close();
        assertThat(family.tryAcquire("acme", ONE)).isEmpty();
        assertThat(family.keyedStats().created()).isEqualTo(2);
    }
}
