package dev.concurry.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.tck.WindowLog;
import dev.concurry.worker.Futures;
import dev.concurry.worker.Mode;
import dev.concurry.worker.Worker;
import dev.concurry.worker.WorkerDiedException;
import dev.concurry.worker.WorkerPool;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Redis sets in process workers (SPEC L20, issue 22): a backend built from its address re-opens the same
 * sets in each child JVM, the password travelling over the worker's pipe. One password-protected
 * redis-server for the class.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class RedisProcessWorkersTest {
    private static final String SECRET = "s3cret-" + Long.toHexString(System.nanoTime());
    private static final String[] JVM = {"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto", "-Xmx96m"};
    @RegisterExtension
    static final LocalRedis server = new LocalRedis("--requirepass", SECRET);

    @TempDir
    Path dir;

    private static RedisURI uri() {
        return RedisURI.builder().withHost("127.0.0.1").withPort(server.server().port)
                .withPassword(SECRET.toCharArray())
                .build();
    }

    /** A worker taking from its limiter; every method logs what an independent check needs. */
    public static class Holder extends Worker {
        /** Takes {@code units} of "tpm" from its limiter (a pool of regions), logging region and grant times. */
        public String region(String log, double units) throws IOException {
            long before = System.nanoTime();
            try (Acquisition acq = limits().acquire(Request.of("tpm", units))) {
                String region = acq.config().get("region");
                WindowLog.append(Path.of(log), region, before);
                return region;
            }
        }

        /** Holds one "gpu" permit until the file {@code dir/release} exists; says so with {@code dir/held-<pid>}. */
        public long hold(String dir) throws Exception {
            long pid = ProcessHandle.current().pid();
            try (Acquisition acq = limits().acquire(Request.of("gpu", 1))) {
                Files.writeString(Path.of(dir, "held-" + pid), "");
                while (!Files.exists(Path.of(dir, "release"))) {
                    Thread.sleep(10);
                }
            }
            return pid;
        }
    }

    @Test
    @DisplayName("L20 L21 W8 the seed's multi-region pool of two Redis sets in process workers: config reaches the child, no window over quota")
    void l20_l21_w8_aLimitPoolOfRedisSetsWorksInProcessWorkers() throws Exception {
        Path log = Files.createFile(dir.resolve("regions.log"));
        long windowNanos = Duration.ofMillis(300).toNanos();
        int quota = 10;
        String run = Long.toHexString(System.nanoTime());
        try (RedisBackend redis = RedisBackend.builder(uri()).build();
                LimitSet usEast = region(redis, "us-east-1-" + run, "us-east-1", quota, windowNanos);
                LimitSet euWest = region(redis, "eu-west-1-" + run, "eu-west-1", quota, windowNanos);
                WorkerPool<Holder> pool = Worker.options(Holder.class).mode(Mode.PROCESS).maxWorkers(3).jvmOptions(JVM)
                        .closeTimeout(Duration.ofSeconds(20)).limits(LimitPool.of(usEast, euWest)).init(Holder::new)) {
            String l = log.toString();
            List<CompletableFuture<String>> calls = IntStream.range(0, 60)
                    .mapToObj(i -> pool.submit(w -> w.region(l, 1)))
                    .toList();
            assertThat(Futures.gather(calls)).containsOnly("us-east-1", "eu-west-1").contains("us-east-1", "eu-west-1");
        }
        Map<String, Integer> perRegion = WindowLog.assertNoWindowOverQuota(log, windowNanos, quota);
        assertThat(perRegion.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(60);
    }

    @Test
    @DisplayName("L20 L18 W8 a Redis ResourceLimit held by child JVMs: one killed while holding, its permit returns after the lease, the other's stays held")
    void l20_l18_w8_aKilledChildsRedisPermitReturnsAfterItsLease() throws Exception {
        Duration lease = Duration.ofSeconds(3);
        String d = dir.toString();
        try (RedisBackend redis = RedisBackend.builder(uri()).leaseDuration(lease).build();
                LimitSet gpus = LimitSet.builder().name("gpus-" + Long.toHexString(System.nanoTime()))
                        .add(ResourceLimit.of("gpu", 2)).backend(redis).build();
                WorkerPool<Holder> pool = Worker.options(Holder.class).mode(Mode.PROCESS).maxWorkers(2).jvmOptions(JVM)
                        .closeTimeout(Duration.ofSeconds(20)).limits(gpus).init(Holder::new)) {
            List<CompletableFuture<Long>> holds = List.of(pool.submit(w -> w.hold(d)), pool.submit(w -> w.hold(d)));
            List<Long> holders = awaitHolders(2);
            for (long pid : holders) {
                String commandLine = ProcessHandle.of(pid).flatMap(p -> p.info().commandLine()).orElse("");
                assertThat(commandLine).as("the child's command line").doesNotContain(SECRET);
            }
            assertThat(gpus.tryAcquire(Request.of("gpu", 1))).as("both permits are held by the children").isEmpty();

            long victim = holders.get(0);
            ProcessHandle.of(victim).orElseThrow().destroyForcibly();
            long killedAt = System.nanoTime();
            assertThat(gpus.tryAcquire(Request.of("gpu", 1))).as("the dead child's lease has not expired yet")
                    .isEmpty();
            try (Acquisition back = gpus.acquire(Request.of("gpu", 1), Duration.ofSeconds(30))) {
                long after = System.nanoTime() - killedAt;
                assertThat(after).as("returned when the lease expired, not long after")
                        .isLessThan(lease.toNanos() + Duration.ofSeconds(10).toNanos());
                assertThat(gpus.tryAcquire(Request.of("gpu", 1))).as("the living child still holds its permit")
                        .isEmpty();
            }
            Files.createFile(dir.resolve("release"));
            List<Long> finished = new ArrayList<>();
            for (CompletableFuture<Long> hold : holds) {
                try {
                    finished.add(hold.get(60, TimeUnit.SECONDS));
                } catch (ExecutionException e) {
                    assertThat(e.getCause()).isInstanceOf(WorkerDiedException.class);
                    assertThat(((WorkerDiedException) e.getCause()).pid()).isEqualTo(victim);
                }
            }
            assertThat(finished).containsExactly(holders.get(1));
            try (Acquisition both = gpus.acquire(Request.of("gpu", 2), Duration.ofSeconds(10))) {
                assertThat(both.granted()).containsEntry("gpu", 2.0);
            }
        }
    }

    @Test
    @DisplayName("L20 a backend built around a client is refused for process workers, naming the set and how to build one that works")
    void l20_aBackendBuiltAroundAClientIsRefusedClearly() {
        RedisClient client = RedisClient.create(uri());
        try (RedisBackend redis = RedisBackend.of(client);
                LimitSet set = LimitSet.builder().name("client-built-" + System.nanoTime())
                        .add(RateLimit.of("rpm", 10, Duration.ofMinutes(1))).backend(redis).build()) {
            assertThat(redis.portable()).isEmpty();
            assertThatThrownBy(() -> Worker.options(Holder.class).mode(Mode.PROCESS).limits(set).init(Holder::new))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(set.name())
                    .hasMessageContaining("RedisBackend.builder(RedisURI)");
        } finally {
            client.shutdown();
        }
    }

    @Test
    @DisplayName("L20 the portable form of a backend built from an address survives serialization, credentials included, and never prints them")
    void l20_thePortableBackendTravelsWithItsCredentialsAndHidesThem() throws Exception {
        try (RedisBackend redis = RedisBackend.builder(uri()).keyPrefix("p:").leaseDuration(Duration.ofSeconds(7))
                .build()) {
            LimitBackend portable = redis.portable().orElseThrow();
            assertThat(portable.toString()).doesNotContain(SECRET).contains("127.0.0.1:" + server.server().port, "p:",
                    "PT7S");
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
                out.writeObject(portable);
            }
            LimitBackend travelled = (LimitBackend) new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))
                    .readObject();
            String name = "travelled-" + System.nanoTime();
            try (LimitSet here = LimitSet.builder().name(name).add(ResourceLimit.of("slot", 1)).backend(redis).build();
                    LimitSet there = LimitSet.builder().name(name).add(ResourceLimit.of("slot", 1)).backend(travelled)
                            .build();
                    Acquisition held = here.acquire(Request.of("slot", 1))) {
                assertThat(there.tryAcquire(Request.of("slot", 1))).as("the same set, reached with the password")
                        .isEmpty();
            } finally {
                ((AutoCloseable) travelled).close();
            }
        }
        assertThatThrownBy(
                () -> RedisBackend.builder(RedisURI.Builder.sentinel("127.0.0.1", 26379, "mymaster").build()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("Sentinel");
    }

    private List<Long> awaitHolders(int n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            List<Long> pids = new ArrayList<>();
            try (var files = Files.list(dir)) {
                files.map(p -> p.getFileName().toString()).filter(f -> f.startsWith("held-"))
                        .forEach(f -> pids.add(Long.parseLong(f.substring(5))));
            }
            if (pids.size() >= n) {
                return pids;
            }
            assertThat(System.nanoTime()).as("%d children hold a permit", n).isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    private static LimitSet region(LimitBackend backend, String name, String region, int quota, long windowNanos) {
        return LimitSet.builder().name(name).add(RateLimit.of("tpm", quota, Duration.ofNanos(windowNanos)))
                .config("region", region).backend(backend).build();
    }
}
