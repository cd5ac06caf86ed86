package dev.concurry.hazelcast;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.tck.WindowLog;
import dev.concurry.worker.Futures;
import dev.concurry.worker.Mode;
import dev.concurry.worker.Worker;
import dev.concurry.worker.WorkerPool;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hazelcast sets in process workers (SPEC L20, issue 22): each child JVM connects a client of its own to
 * the cluster ({@link HazelcastBackend#portable()}) and takes from the same sets as the parent. One
 * embedded member for the class.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class HazelcastProcessWorkersTest {
    private static final String[] JVM = {"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto", "-Xmx128m"};
    private static LoopbackCluster cluster;

    @TempDir
    Path dir;

    @BeforeAll
    static void startCluster() {
        cluster = LoopbackCluster.builder().embeddedMembers(1).start();
    }

    @AfterAll
    static void stopCluster() {
        if (cluster != null) {
            cluster.close();
        }
    }

    /** Takes from its limiter (a pool of regions), logging region and grant times for an independent check. */
    public static class Regional extends Worker {
        public String region(String log) throws IOException {
            long before = System.nanoTime();
            try (Acquisition acq = limits().acquire(Request.of("tpm", 1))) {
                String region = acq.config().get("region");
                WindowLog.append(Path.of(log), region, before);
                return region;
            }
        }
    }

    @Test
    @DisplayName("L20 L21 W8 the seed's multi-region pool of two Hazelcast sets in process workers: config reaches the child, no window over quota")
    void l20_l21_w8_aLimitPoolOfHazelcastSetsWorksInProcessWorkers() throws Exception {
        Path log = Files.createFile(dir.resolve("regions.log"));
        long windowNanos = Duration.ofMillis(500).toNanos();
        int quota = 10;
        String run = Long.toHexString(System.nanoTime());
        HazelcastBackend backend = HazelcastBackend.of(cluster.embeddedMember(0));
        LimitBackend portable = backend.portable().orElseThrow();
        assertThat(portable.toString()).contains("127.0.0.1:");
        try (backend;
                LimitSet usEast = region(backend, "us-east-1-" + run, "us-east-1", quota, windowNanos);
                LimitSet euWest = region(backend, "eu-west-1-" + run, "eu-west-1", quota, windowNanos);
                WorkerPool<Regional> pool = Worker.options(Regional.class).mode(Mode.PROCESS).maxWorkers(2)
                        .jvmOptions(JVM)
                        .closeTimeout(Duration.ofSeconds(20)).limits(LimitPool.of(usEast, euWest))
                        .init(Regional::new)) {
            String l = log.toString();
            List<CompletableFuture<String>> calls = IntStream.range(0, 50).mapToObj(i -> pool.submit(w -> w.region(l)))
                    .toList();
            assertThat(Futures.gather(calls)).containsOnly("us-east-1", "eu-west-1").contains("us-east-1", "eu-west-1");
            assertThat(usEast.stats().granted() + euWest.stats().granted())
                    .as("the parent's sets granted nothing: the children took from the cluster").isZero();
        }
        Map<String, Integer> perRegion = WindowLog.assertNoWindowOverQuota(log, windowNanos, quota);
        assertThat(perRegion.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(50);
    }

    private static LimitSet region(LimitBackend backend, String name, String region, int quota, long windowNanos) {
        return LimitSet.builder().name(name).add(RateLimit.of("tpm", quota, Duration.ofNanos(windowNanos)))
                .config("region", region).backend(backend).build();
    }
}
