package dev.concurry.limit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;
import dev.concurry.time.ManualClock;
import dev.concurry.worker.Mode;
import dev.concurry.worker.TaskExecutor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/** SPEC L24: the keyed family's API — building, keys, config, backends, workers — on the in-memory backend. */
class KeyedLimitsTest {
    private static final RateLimit REQUESTS = RateLimit.of("requests", 10, Duration.ofSeconds(1));

    @Test
    @DisplayName("L4/L24 a family is validated at build: a template, unique keys, tiers limiting the same keys")
    void L24_builder_validates() {
        assertThatThrownBy(() -> KeyedLimits.builder().build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("a keyed family needs at least one limit in its template");
        assertThatThrownBy(
                () -> KeyedLimits.builder().add(REQUESTS).add(RateLimit.of("requests", 5, Duration.ofSeconds(1)))
                        .build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("duplicate limit key 'requests'");
        assertThatThrownBy(() -> KeyedLimits.<String>builder().add(REQUESTS).add(ResourceLimit.of("jobs", 2))
                .override(id -> true, ResourceLimit.of("jobs", 5)).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("override #1 limits the keys [jobs] but the template limits [jobs, requests]: a tier limits"
                        + " the same keys, with other capacities, windows or algorithms");
        assertThatThrownBy(() -> KeyedLimits.builder().maxKeys(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("maxKeys must be at least 1, got: 0");
        assertThatThrownBy(() -> KeyedLimits.builder().evictIdleAfter(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("evictIdleAfter must be positive, got: PT0S");
        assertThatThrownBy(() -> KeyedLimits.builder().name(" ")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> KeyedLimits.builder().config(Map.of())
                .config((java.util.function.Function<Object, Map<String, String>>) null))
                .isInstanceOf(NullPointerException.class);
    }

    @Test
    @DisplayName("L24 a null key or an array key is refused with a message saying why")
    void L24_bad_keys_are_refused() {
        try (KeyedLimits<Object> family = KeyedLimits.builder().name("api").add(REQUESTS).build()) {
            Request one = Request.of("requests", 1);
            assertThatThrownBy(() -> family.tryAcquire(null, one)).isInstanceOf(NullPointerException.class)
                    .hasMessage("the key of keyed limits 'api' must not be null");
            assertThatThrownBy(() -> family.acquireAsync(new byte[] {1}, one))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("an array cannot be a key of keyed limits 'api'")
                    .hasMessageContaining("use a List or a String");
            assertThatThrownBy(() -> family.forKey(null)).isInstanceOf(NullPointerException.class);
            assertThatThrownBy(() -> family.stats(new int[0])).isInstanceOf(IllegalArgumentException.class);
            assertThat(family.keyedStats().created()).as("nothing was created").isZero();
        }
    }

    @Test
    @DisplayName("L24 per-key config: added to the static entries; a config function returning null is an error")
    void L24_per_key_config() {
        try (KeyedLimits<String> family = KeyedLimits.<String>builder().add(REQUESTS)
                .config(Map.of("service", "search", "customer", "none"))
                .config(id -> id.equals("broken") ? null : Map.of("customer", id)).build()) {
            try (Acquisition acq = family.acquire("acme", Request.of("requests", 1))) {
                assertThat(acq.config()).isEqualTo(Map.of("service", "search", "customer", "acme"));
            }
            assertThatThrownBy(() -> family.tryAcquire("broken", Request.of("requests", 1)))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("returned null for key broken; return Map.of() for none");
            assertThat(family.keyedStats().keys()).isEqualTo(1);
        }
    }

    @Test
    @DisplayName("L24/L17 a keyed family on shared memory: one file per key, shared by every family opened on it")
    void L24_shared_memory_families_share_each_keys_file() throws Exception {
        Path dir = Files.createTempDirectory("concurry-keyed");
        try (KeyedLimits<String> one = KeyedLimits.<String>builder().name("customers").add(ResourceLimit.of("jobs", 2))
                .backend(Backends.sharedMemory(dir.resolve("f.limits"))).build();
                KeyedLimits<String> other = KeyedLimits.<String>builder().name("customers")
                        .add(ResourceLimit.of("jobs", 2))
                        .backend(Backends.sharedMemory(dir.resolve("f.limits"))).build();
                Acquisition held = one.acquire("acme", Request.of("jobs", 2))) {
            assertThat(other.tryAcquire("acme", Request.of("jobs", 1)))
                    .as("acme's two jobs are held through the other family")
                    .isEmpty();
            assertThat(other.tryAcquire("globex", Request.of("jobs", 2))).as("globex has its own").isPresent()
                    .get().satisfies(Acquisition::close);
            assertThat(dir.resolve("f.limits.keys").resolve("acme.limits")).exists();
            assertThat(dir.resolve("f.limits.keys").resolve("globex.limits")).exists();
        } finally {
            try (var files = Files.walk(dir)) {
                for (Path path : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(path);
                }
            }
        }
    }

    @Test
    @DisplayName("L24 the default openFamily opens one set per key through open(), named <family>/<key>")
    void L24_default_family_opens_a_set_per_key() {
        ManualClock clock = new ManualClock();
        LimitBackend inMemory = Backends.inMemory(clock);
        List<String> opened = new ArrayList<>();
        LimitBackend plain = new LimitBackend() {       // only open(): the default openFamily applies
            @Override
            public String name() {
                return "plain";
            }

            @Override
            public boolean crossProcess() {
                return false;
            }

            @Override
            public LimitStore open(LimitSetDefinition definition) {
                opened.add(definition.name() + " " + definition.config());
                return inMemory.open(definition);
            }
        };
        try (KeyedLimits<String> family = KeyedLimits.<String>builder().name("api").add(REQUESTS).backend(plain)
                .config(id -> Map.of("customer", id)).evictIdleAfter(Duration.ofMillis(100)).build()) {
            assertThat(family.tryAcquire("acme", Request.of("requests", 10))).isPresent().get()
                    .satisfies(Acquisition::close);
            assertThat(family.tryAcquire("acme", Request.of("requests", 1))).isEmpty();
            assertThat(family.tryAcquire("globex", Request.of("requests", 10))).isPresent().get()
                    .satisfies(Acquisition::close);
            assertThat(opened).containsExactly("api/acme {customer=acme}", "api/globex {customer=globex}");
            assertThat(family.backend()).isSameAs(plain);
            clock.advance(Duration.ofMillis(1_100));
            assertThat(family.keyedStats().keys()).as("idle since 1 s, dropped at 1.1 s").isZero();
        }
    }

    @Test
    @DisplayName("L24/W3 a key's limiter is a worker's limits(): every task acquires from that key")
    void L24_for_key_as_the_limits_of_workers() {
        try (KeyedLimits<String> perTenant = KeyedLimits.<String>builder().add(ResourceLimit.of("jobs", 2))
                .add(CallLimit.of(1_000, Duration.ofMinutes(1))).build();
                TaskExecutor tasks = TaskExecutor.options().mode(Mode.THREAD).maxWorkers(4)
                        .limits(perTenant.forKey("acme")).init()) {
            AtomicInteger running = new AtomicInteger();
            AtomicInteger most = new AtomicInteger();
            List<java.util.concurrent.CompletableFuture<Integer>> calls = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                calls.add(tasks.submit(limits -> {
                    try (Acquisition acq = limits.acquire()) {
                        most.accumulateAndGet(running.incrementAndGet(), Math::max);
                        Thread.sleep(2);
                        running.decrementAndGet();
                        return 1;
                    }
                }));
            }
            calls.forEach(java.util.concurrent.CompletableFuture::join);
            assertThat(most.get()).as("acme's 2 jobs bound the 4 workers").isBetween(1, 2);
            assertThat(perTenant.stats("acme").granted()).isEqualTo(20);
            assertThat(perTenant.stats("acme").key("call_count").inUse()).isEqualTo(20);
            assertThat(perTenant.stats("globex").key("call_count").inUse()).isZero();
        }
    }

    @Test
    @DisplayName("L24 threads racing to create the same keys create each once and share its quota")
    void L24_racing_creators_share_one_state_per_key() throws Exception {
        int threads = 8;
        int keys = 200;
        try (KeyedLimits<Integer> family = KeyedLimits.<Integer>builder().add(ResourceLimit.of("jobs", 1))
                .evictIdleAfter(Duration.ofHours(1)).build()) {
            CyclicBarrier start = new CyclicBarrier(threads);
            ConcurrentLinkedQueue<Acquisition> held = new ConcurrentLinkedQueue<>();
            List<Thread> racers = new ArrayList<>();
            ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
            for (int t = 0; t < threads; t++) {
                racers.add(Thread.ofPlatform().start(() -> {
                    try {
                        start.await();
                        for (int key = 0; key < keys; key++) {
                            Optional<Acquisition> got = family.tryAcquire(key, Request.of("jobs", 1));
                            got.ifPresent(held::add);
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }));
            }
            for (Thread racer : racers) {
                racer.join();
            }
            assertThat(failures).isEmpty();
            assertThat(held).as("each key's single permit granted exactly once").hasSize(keys);
            assertThat(family.keyedStats().created()).isEqualTo(keys);
            assertThat(family.keyedStats().keys()).isEqualTo(keys);
            held.forEach(Acquisition::close);
        }
    }

    @Test
    @DisplayName("L24 a granted acquisition closes once; update after close is refused as for a set")
    void L24_acquisition_handle_is_the_sets() {
        try (KeyedLimits<String> family = KeyedLimits.<String>builder().name("api").add(REQUESTS)
                .add(ResourceLimit.of("jobs", 1)).build()) {
            Acquisition acq = family.tryAcquire("acme", Request.of("requests", 2).and("jobs", 1)).orElseThrow();
            assertThat(acq.granted()).isEqualTo(Map.of("requests", 2.0, "jobs", 1.0));
            assertThat(acq.toString()).contains("for key acme");
            acq.close();
            acq.close();
            assertThat(family.stats("acme").key("jobs").inUse()).isZero();
            assertThatThrownBy(() -> acq.update("requests", 1)).isInstanceOf(IllegalStateException.class);
            assertThat(family.toString()).startsWith("KeyedLimits[api, in-memory family");
            assertThat(family.forKey("acme").toString()).isEqualTo("KeyedLimits[api] for key acme");
        }
    }
}
