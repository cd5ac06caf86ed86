package dev.concurry.micrometer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.AcquireTimeoutException;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Backends;
import dev.concurry.limit.KeyedLimits;
import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.PoolBalancing;
import dev.concurry.limit.ProviderReport;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.limit.TooManyKeysException;
import dev.concurry.time.ManualClock;
import dev.concurry.worker.Mode;
import dev.concurry.worker.TaskExecutor;
import dev.concurry.worker.Worker;
import dev.concurry.worker.WorkerPool;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class ConcurryMetricsTest {
    private static final Duration MINUTE = Duration.ofMinutes(1);
    private static final Request CONN = Request.of("conn", 1);

    private final ManualClock clock = new ManualClock();
    private final MeterRegistry registry = new SimpleMeterRegistry();

    // ---- limit sets ------------------------------------------------------------------------------

    @Test
    void everyLimitSetMeterReportsTheExactTotalsOfAKnownWorkload_P2_L15() {
        LimitSet set = LimitSet.builder().name("api")
                .add(RateLimit.of("tokens", 1000, MINUTE))
                .add(ResourceLimit.of("conn", 1))
                .config("region", "us-east-1")
                .backend(Backends.inMemory(clock)).build();
        ConcurryMetrics.of(set).bindTo(registry);

        set.acquire(Request.of("tokens", 100)).update("tokens", 40).close();      // refunds 60
        set.acquire(Request.of("tokens", 100)).update("tokens", 150).close();     // charges 50
        Acquisition held = set.acquire(CONN);
        assertThat(set.tryAcquire(CONN)).isEmpty();                                 // a rejection
        assertThatThrownBy(() -> set.acquire(CONN, Duration.ZERO)).isInstanceOf(AcquireTimeoutException.class);
        CompletableFuture<Acquisition> waiter = set.acquireAsync(CONN);
        assertThat(gauge("concurry.limit.waiting", "api", "conn")).isEqualTo(1);
        assertThat(gauge("concurry.limit.waiting", "api", "tokens")).isZero();
        assertThat(timer("concurry.limit.wait", "api").count()).as("still waiting").isZero();
        clock.advance(Duration.ofSeconds(2));
        held.close();                                                               // the waiter is granted at 2 s
        Acquisition second = waiter.join();

        assertThat(gauge("concurry.limit.capacity", "api", "tokens")).isEqualTo(1000);
        assertThat(gauge("concurry.limit.available", "api", "tokens")).isEqualTo(810);
        assertThat(gauge("concurry.limit.in.use", "api", "tokens")).isEqualTo(190);
        assertThat(gauge("concurry.limit.waiting", "api", "tokens")).isZero();
        assertThat(counter("concurry.limit.refunded", "api", "tokens")).isEqualTo(60);
        assertThat(counter("concurry.limit.charged", "api", "tokens")).isEqualTo(50);
        assertThat(gauge("concurry.limit.capacity", "api", "conn")).isEqualTo(1);
        assertThat(gauge("concurry.limit.available", "api", "conn")).isZero();
        assertThat(gauge("concurry.limit.in.use", "api", "conn")).isEqualTo(1);
        assertThat(gauge("concurry.limit.waiting", "api", "conn")).isZero();
        assertThat(counter("concurry.limit.refunded", "api", "conn")).isZero();
        assertThat(counter("concurry.limit.charged", "api", "conn")).isZero();
        assertThat(counter("concurry.limit.grants", "api", null)).isEqualTo(4);
        assertThat(counter("concurry.limit.timeouts", "api", null)).isEqualTo(1);
        assertThat(counter("concurry.limit.rejections", "api", null)).isEqualTo(1);
        FunctionTimer wait = timer("concurry.limit.wait", "api");
        assertThat(wait.count()).isEqualTo(1);
        assertThat(wait.totalTime(TimeUnit.NANOSECONDS)).isEqualTo(Duration.ofSeconds(2).toNanos());
        assertThat(wait.baseTimeUnit()).isEqualTo(TimeUnit.SECONDS);

        Meter.Id id = registry.get("concurry.limit.available").tag("key", "tokens").gauge().getId();
        assertThat(id.getTags()).containsExactlyInAnyOrder(Tag.of("set", "api"), Tag.of("backend", "in-memory"),
                Tag.of("region", "us-east-1"), Tag.of("key", "tokens"));
        assertThat(registry.getMeters()).as("9 per key, 8 per set").hasSize(2 * 9 + 8);
        second.close();
        assertThat(gauge("concurry.limit.in.use", "api", "conn")).isZero();
    }

    @Test
    void whatTheProviderSaidIsMeteredPerKeyAndItsReportsPerSet_P2_F4() {
        LimitSet set = LimitSet.builder().name("llm")
                .add(RateLimit.of("tokens", 10_000, MINUTE))
                .add(RateLimit.of("requests", 500, MINUTE))
                .backend(Backends.inMemory(clock)).build();
        ConcurryMetrics.of(set).bindTo(registry);
        assertThat(gauge("concurry.limit.provider.remaining", "llm", "tokens")).as("nothing heard yet").isNaN();

        set.observe(ProviderReport.builder().limit("tokens", 5_000).remaining("tokens", 4_200, Duration.ofSeconds(30))
                .unparsed(1).build());
        set.observe(ProviderReport.builder().retryAfter(Duration.ofSeconds(20)).pauseKeys("requests").build());
        clock.advance(Duration.ofSeconds(5));

        assertThat(gauge("concurry.limit.provider.limit", "llm", "tokens")).isEqualTo(5_000);
        assertThat(gauge("concurry.limit.provider.remaining", "llm", "tokens")).isEqualTo(4_200);
        assertThat(gauge("concurry.limit.provider.paused", "llm", "tokens")).isZero();
        assertThat(gauge("concurry.limit.provider.paused", "llm", "requests")).isEqualTo(15);
        assertThat(gauge("concurry.limit.available", "llm", "requests")).as("paused: nothing available").isZero();
        assertThat(counter("concurry.limit.provider.reports", "llm", null)).isEqualTo(2);
        assertThat(counter("concurry.limit.provider.refusals", "llm", null)).isEqualTo(1);
        assertThat(counter("concurry.limit.provider.pauses", "llm", null)).isEqualTo(1);
        assertThat(counter("concurry.limit.provider.unparsed", "llm", null)).isEqualTo(1);
    }

    @Test
    void aMissingRegionIsTaggedNoneAndChosenConfigEntriesAndExtraTagsAreAdded_P2() {
        LimitSet plain = LimitSet.builder().name("plain").add(ResourceLimit.of("conn", 2))
                .config("endpoint", "chat").config("api_key", "secret").backend(Backends.inMemory(clock)).build();
        ConcurryMetrics.of(plain).bindTo(registry);
        MeterRegistry other = new SimpleMeterRegistry();
        ConcurryMetrics.of(plain).configTags("endpoint").tags("service", "summarizer").bindTo(other);

        assertThat(registry.get("concurry.limit.capacity").gauge().getId().getTags())
                .contains(Tag.of("region", "none")).noneMatch(tag -> tag.getKey().equals("api_key"));
        assertThat(other.get("concurry.limit.capacity").gauge().getId().getTags())
                .contains(Tag.of("endpoint", "chat"), Tag.of("service", "summarizer"))
                .noneMatch(tag -> tag.getKey().equals("region") || tag.getKey().equals("api_key"));
        assertThatThrownBy(() -> ConcurryMetrics.of(plain).tags("odd"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("key-value pairs");
    }

    @Test
    void bindingTwiceRegistersEachMeterOnce_P2() {
        LimitSet set = LimitSet.builder().name("once").add(ResourceLimit.of("conn", 1))
                .backend(Backends.inMemory(clock)).build();
        ConcurryMetrics.of(set).bindTo(registry);
        int meters = registry.getMeters().size();
        ConcurryMetrics.of(set).bindTo(registry);

        assertThat(registry.getMeters()).hasSize(meters);
    }

    @Test
    void theEmptySetHasNoKeyMetersAndCountsNothing_L14_P2() {
        ConcurryMetrics.of(LimitSet.empty()).bindTo(registry);
        LimitSet.empty().acquire().close();

        assertThat(registry.find("concurry.limit.available").meters()).isEmpty();
        assertThat(registry.get("concurry.limit.grants").functionCounter().count()).isZero();
        assertThat(registry.get("concurry.limit.grants").functionCounter().getId().getTag("backend")).isEqualTo("none");
    }

    // ---- limit pools -----------------------------------------------------------------------------

    @Test
    void aLimitPoolReportsEachSetWithItsRegionAndItsOwnDispatching_P2_L22() throws InterruptedException {
        LimitSet us = LimitSet.builder().name("us").add(ResourceLimit.of("conn", 1)).config("region", "us-east-1")
                .backend(Backends.inMemory(clock)).build();
        LimitSet eu = LimitSet.builder().name("eu").add(ResourceLimit.of("conn", 1)).config("region", "eu-west-1")
                .backend(Backends.inMemory(clock)).build();
        LimitPool pool = LimitPool.builder().add(us).add(eu).balancing(PoolBalancing.ROUND_ROBIN).clock(clock).build();
        ConcurryMetrics.of(pool).tags("pool", "regions").bindTo(registry);

        Acquisition a1 = pool.acquire(CONN);                     // turn 0: us
        pool.acquire(CONN).close();                              // turn 1: eu, given back
        Acquisition a3 = pool.acquire(CONN);                     // turn 2 prefers us (full): fails over to eu
        assertThat(a3.config()).containsEntry("region", "eu-west-1");
        assertThat(pool.tryAcquire(CONN)).isEmpty();             // turn 3: both full
        assertThatThrownBy(() -> pool.acquire(CONN, Duration.ZERO)).isInstanceOf(AcquireTimeoutException.class);
        CompletableFuture<Acquisition> waiter = pool.acquireAsync(CONN);   // turn 5 prefers eu; waits on both
        clock.advance(Duration.ofSeconds(2));
        a1.close();                                              // us grants the waiter: a failover
        Acquisition a4 = waiter.join();
        assertThat(a4.config()).containsEntry("region", "us-east-1");
        eventually(() -> counter("concurry.limit.pool.dispatched", "us", null) == 2
                && gauge("concurry.limit.waiting", "eu", "conn") == 0);

        assertThat(counter("concurry.limit.pool.dispatched", "us", null)).isEqualTo(2);
        assertThat(counter("concurry.limit.pool.dispatched", "eu", null)).isEqualTo(2);
        assertThat(registry.get("concurry.limit.pool.failovers").functionCounter().count()).isEqualTo(2);
        assertThat(registry.get("concurry.limit.pool.timeouts").functionCounter().count()).isEqualTo(1);
        assertThat(registry.get("concurry.limit.pool.rejections").functionCounter().count()).isEqualTo(1);
        assertThat(registry.get("concurry.limit.pool.failovers").functionCounter().getId().getTags())
                .containsExactly(Tag.of("pool", "regions"));

        assertThat(registry.get("concurry.limit.in.use").tags("set", "us", "region", "us-east-1", "pool", "regions")
                .gauge().value()).isEqualTo(1);
        assertThat(gauge("concurry.limit.in.use", "eu", "conn")).isEqualTo(1);
        assertThat(gauge("concurry.limit.available", "us", "conn")).isZero();
        assertThat(gauge("concurry.limit.waiting", "us", "conn")).isZero();
        assertThat(counter("concurry.limit.grants", "us", null)).isEqualTo(2);
        assertThat(counter("concurry.limit.grants", "eu", null)).isEqualTo(2);
        assertThat(counter("concurry.limit.rejections", "us", null))
                .as("the pool's vain tries: a3, try, timeout, async")
                .isEqualTo(4);
        assertThat(counter("concurry.limit.rejections", "eu", null)).as("try, timeout, async").isEqualTo(3);
        assertThat(counter("concurry.limit.timeouts", "us", null)).isZero();
        assertThat(counter("concurry.limit.timeouts", "eu", null)).as("a withdrawn race is no timeout").isZero();
        assertThat(timer("concurry.limit.wait", "us").count()).isEqualTo(1);
        assertThat(timer("concurry.limit.wait", "us").totalTime(TimeUnit.NANOSECONDS))
                .isEqualTo(Duration.ofSeconds(2).toNanos());
        assertThat(timer("concurry.limit.wait", "eu").count()).isZero();
        assertThat(timer("concurry.limit.wait", "eu").totalTime(TimeUnit.NANOSECONDS)).isZero();
        a3.close();
        a4.close();
    }

    @Test
    void poolNameTagsOnlyThePoolsOwnMetersSoTwoPoolsOverOneSetStayApart_P2_L22() {
        LimitSet shared = LimitSet.builder().name("shared").add(ResourceLimit.of("conn", 2))
                .backend(Backends.inMemory(clock)).build();
        LimitPool first = LimitPool.of(shared);
        LimitPool second = LimitPool.of(shared);
        ConcurryMetrics.of(shared).bindTo(registry);
        ConcurryMetrics.of(first).poolName("first").bindTo(registry);
        ConcurryMetrics.of(second).poolName("second").bindTo(registry);

        first.acquire(CONN).close();
        first.acquire(CONN).close();
        second.acquire(CONN).close();

        assertThat(registry.get("concurry.limit.pool.dispatched").tags("set", "shared", "pool", "first")
                .functionCounter().count()).isEqualTo(2);
        assertThat(registry.get("concurry.limit.pool.dispatched").tags("set", "shared", "pool", "second")
                .functionCounter().count()).isEqualTo(1);
        assertThat(registry.find("concurry.limit.pool.failovers").functionCounters()).hasSize(2);
        assertThat(registry.find("concurry.limit.grants").functionCounters()).as("the set's meters: once, untagged")
                .singleElement().satisfies(c -> assertThat(c.count()).isEqualTo(3));
        assertThat(registry.get("concurry.limit.in.use").gauge().getId().getTag("pool")).isNull();
    }

    // ---- worker pools ----------------------------------------------------------------------------

    /** A worker whose calls succeed or fail on demand. */
    static final class Echo extends Worker {
        String echo(String s) {
            return s;
        }

        String fail() throws IOException {
            throw new IOException("failed on purpose");
        }
    }

    @Test
    void aWorkerPoolReportsActiveQueuedCallsByOutcomeAndCallTime_P2_W4() {
        try (WorkerPool<Echo> pool = Worker.options(Echo.class).mode(Mode.SYNC).name("echo").init(Echo::new)) {
            ConcurryMetrics.of(pool).bindTo(registry);
            for (int i = 0; i < 3; i++) {
                String echoed = pool.call(w -> w.echo("hi"));
                assertThat(echoed).isEqualTo("hi");
            }
            for (int i = 0; i < 2; i++) {
                assertThatThrownBy(() -> pool.submit(Echo::fail).join()).isInstanceOf(CompletionException.class)
                        .cause().isInstanceOf(IOException.class);
            }

            assertThat(registry.get("concurry.worker.active").tags("pool", "echo", "mode", "sync").gauge().value())
                    .isZero();
            assertThat(registry.get("concurry.worker.queued").tag("pool", "echo").gauge().value()).isZero();
            assertThat(registry.get("concurry.worker.calls").tags("pool", "echo", "outcome", "success")
                    .functionCounter().count()).isEqualTo(3);
            assertThat(registry.get("concurry.worker.calls").tags("pool", "echo", "outcome", "failure")
                    .functionCounter().count()).isEqualTo(2);
            FunctionTimer calls = registry.get("concurry.worker.call").tag("pool", "echo").functionTimer();
            assertThat(calls.count()).isEqualTo(5);
            assertThat(calls.totalTime(TimeUnit.NANOSECONDS)).isPositive();
            assertThat(calls.getId().getTags()).containsExactlyInAnyOrder(Tag.of("pool", "echo"),
                    Tag.of("mode", "sync"));
        }
    }

    @Test
    void aTaskExecutorReportsLikeAWorkerPoolUnderItsName_P2_W9() {
        try (TaskExecutor tasks = TaskExecutor.options().mode(Mode.SYNC).name("fetchers").init()) {
            ConcurryMetrics.of(tasks).bindTo(registry);
            tasks.submit(() -> "ok").join();
            tasks.submit(() -> "ok").join();
            assertThatThrownBy(() -> tasks.submit(() -> {
                throw new IOException("failed on purpose");
            }).join()).isInstanceOf(CompletionException.class);

            assertThat(
                    registry.get("concurry.worker.calls").tags("pool", "fetchers", "mode", "sync", "outcome", "success")
                            .functionCounter().count())
                    .isEqualTo(2);
            assertThat(registry.get("concurry.worker.calls").tags("pool", "fetchers", "outcome", "failure")
                    .functionCounter().count()).isEqualTo(1);
            assertThat(registry.get("concurry.worker.call").tag("pool", "fetchers").functionTimer().count())
                    .isEqualTo(3);
            assertThat(registry.get("concurry.worker.active").tag("pool", "fetchers").gauge().value()).isZero();
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------

    // ---- keyed families --------------------------------------------------------------------------

    @Test
    void aKeyedFamilyReportsItsKeysAndEvictionsAndNoMeterPerKeyUnlessAsked_P2_L24() {
        KeyedLimits<String> family = KeyedLimits.<String>builder().name("customers")
                .add(RateLimit.of("tokens", 1000, MINUTE, RateAlgorithm.TOKEN_BUCKET)).add(ResourceLimit.of("conn", 2))
                .backend(Backends.inMemory(clock)).evictIdleAfter(Duration.ofSeconds(1)).maxKeys(3).build();
        ConcurryMetrics.of(family).bindTo(registry);
        ConcurryMetrics.of(family).perKey("acme").bindTo(registry);

        family.acquire("acme", Request.of("tokens", 100)).update("tokens", 40).close();     // refunds 60: full at 2.4 s
        Acquisition held = family.acquire("globex", CONN);
        family.acquire("initech", Request.of("tokens", 500)).close();                        // full again at 30 s
        assertThatThrownBy(() -> family.tryAcquire("hooli", CONN)).isInstanceOf(TooManyKeysException.class);
        assertThat(registry.get("concurry.keyed.keys").tag("family", "customers").tag("backend", "in-memory").gauge()
                .value()).isEqualTo(3);
        assertThat(familyCounter("concurry.keyed.created")).isEqualTo(3);
        assertThat(familyCounter("concurry.keyed.refused")).isEqualTo(1);
        assertThat(memberGauge("concurry.keyed.available", "tokens")).isEqualTo(960);
        assertThat(memberGauge("concurry.keyed.capacity", "conn")).isEqualTo(2);
        assertThat(registry.get("concurry.keyed.refunded").tag("member", "acme").tag("key", "tokens").functionCounter()
                .count()).isEqualTo(60);
        assertThat(registry.get("concurry.keyed.grants").tag("member", "acme").functionCounter().count()).isEqualTo(1);
        assertThat(registry.find("concurry.keyed.available").tag("member", "globex").gauge())
                .as("no meters for keys not asked for").isNull();
        assertThat(registry.find("concurry.limit.available").gauge()).as("no set meters either").isNull();

        clock.advance(Duration.ofSeconds(3));          // acme: full again and unused for a tick: dropped
        assertThat(familyCounter("concurry.keyed.evictions")).isEqualTo(1);
        held.close();
        clock.advance(Duration.ofMinutes(2));          // globex released, initech full again
        assertThat(familyCounter("concurry.keyed.evictions")).isEqualTo(3);
        assertThat(registry.get("concurry.keyed.keys").gauge().value()).isZero();
        family.close();
    }

    private double familyCounter(String name) {
        return registry.get(name).tag("family", "customers").functionCounter().count();
    }

    private double memberGauge(String name, String key) {
        return registry.get(name).tag("family", "customers").tag("member", "acme").tag("key", key).gauge().value();
    }

    private double gauge(String name, String set, String key) {
        return registry.get(name).tag("set", set).tag("key", key).gauge().value();
    }

    private double counter(String name, String set, String key) {
        var search = registry.get(name).tag("set", set);
        return (key == null ? search : search.tag("key", key)).functionCounter().count();
    }

    private FunctionTimer timer(String name, String set) {
        return registry.get(name).tag("set", set).functionTimer();
    }

    /** The pool records its grant just after the waiter's future completes; wait for it, boundedly. */
    private static void eventually(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition never held");
            }
            Thread.sleep(1);
        }
    }
}
