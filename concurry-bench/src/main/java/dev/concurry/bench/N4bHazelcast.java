package dev.concurry.bench;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.IMap;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.DataSerializable;
import dev.concurry.hazelcast.HazelcastBackend;
import dev.concurry.hazelcast.LoopbackCluster;
import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.distributed.BucketProxy;
import io.github.bucket4j.grid.hazelcast.Bucket4jHazelcast;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.infra.BenchmarkParams;

/**
 * SPEC N4b: a hot set on a Hazelcast cluster of {@link #members} member JVMs on loopback (3 by default),
 * used by this JVM as a client from 8 threads; every call succeeds (limits far above the load), so each
 * row measures what one acquisition costs through the cluster. Each trial starts its own cluster in
 * {@code @Setup(Level.Trial)} ({@link LoopbackCluster}, members with this JVM's class path) and stops it
 * in {@code @TearDown}. The map of every row has one synchronous backup (the limits map's configuration).
 *
 * <ul>
 *   <li>{@code concurry*}: a {@link HazelcastBackend} set with one rate limit,
 *       {@code tryAcquire(request).orElseThrow().close()}: one entry-processor call per batch of attempts
 *       (closing a rate-only grant makes no call).</li>
 *   <li>{@code bucket4jHazelcast}: Bucket4j's entry-processor proxy manager
 *       ({@code Bucket4jHazelcast.entryProcessorBasedBuilder}, default options), {@code tryConsume(1)}.</li>
 *   <li>{@code ceilingNoop}: {@code executeOnKey} of an entry processor that does nothing (no change, so
 *       no backup): one round trip to the key's owner, the cluster's own ceiling.</li>
 *   <li>{@code ceilingNoopWrite}: the same processor writing a constant (a change, so one backup): the
 *       ceiling of any processor that changes state.</li>
 * </ul>
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(8)
@State(Scope.Benchmark)
public class N4bHazelcast {
    /** Far above what 8 threads reach on loopback: every call succeeds. */
    static final long HUGE = 1_000_000_000L;
    private static final Duration SECOND = Duration.ofSeconds(1);
    private static final String KEY = "n4b-hot";

    /** Member JVMs of the cluster (the smoke test uses 1). */
    @Param("3")
    public int members;

    private LoopbackCluster cluster;
    private HazelcastInstance client;
    private HazelcastBackend backend;
    private LimitSet set;
    private final Request request = Request.of("requests", 1);
    private BucketProxy bucket;
    private IMap<String, Object> plain;

    @Setup(Level.Trial)
    public void setUp(BenchmarkParams params) {
        String benchmark = params.getBenchmark();
        String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
        cluster = LoopbackCluster.builder().embeddedMembers(0).memberProcesses(members).start();
        try {
            client = cluster.newClient();
            switch (method) {
                case "concurryGcra" -> concurry(RateAlgorithm.GCRA);
                case "concurryTokenBucket" -> concurry(RateAlgorithm.TOKEN_BUCKET);
                case "concurrySlidingWindow" -> concurry(RateAlgorithm.SLIDING_WINDOW);
                case "bucket4jHazelcast" -> {
                    IMap<String, byte[]> buckets = client.getMap(HazelcastBackend.DEFAULT_MAP);
                    bucket = Bucket4jHazelcast.entryProcessorBasedBuilder(buckets).build().getProxy(KEY,
                            () -> BucketConfiguration.builder()
                                    .addLimit(limit -> limit.capacity(HUGE).refillGreedy(HUGE, SECOND)).build());
                }
                case "ceilingNoop", "ceilingNoopWrite" -> {
                    plain = client.getMap(HazelcastBackend.DEFAULT_MAP);
                    plain.put(KEY, 0L);
                }
                default -> throw new IllegalArgumentException("no set-up for " + method);
            }
        } catch (RuntimeException e) {
            tearDown();
            throw e;
        }
    }

    private void concurry(RateAlgorithm algorithm) {
        backend = HazelcastBackend.of(client);
        set = LimitSet.builder().name(KEY).add(RateLimit.of("requests", HUGE, SECOND, algorithm)).backend(backend)
                .build();
    }

    /** Closes the set, the backend and the client, then stops the members: nothing is left running. */
    @TearDown(Level.Trial)
    public void tearDown() {
        try {
            if (set != null) {
                set.close();
            }
            if (backend != null) {
                backend.close();
            }
        } finally {
            cluster.close();
        }
    }

    @Benchmark
    public Acquisition concurryGcra() {
        return acquireAndClose();
    }

    @Benchmark
    public Acquisition concurryTokenBucket() {
        return acquireAndClose();
    }

    @Benchmark
    public Acquisition concurrySlidingWindow() {
        return acquireAndClose();
    }

    private Acquisition acquireAndClose() {
        Acquisition acquisition = set.tryAcquire(request).orElseThrow();
        acquisition.close();
        return acquisition;
    }

    @Benchmark
    public boolean bucket4jHazelcast() {
        if (!bucket.tryConsume(1)) {
            throw new IllegalStateException("Bucket4j refused a call: the limit is meant to be far above the load");
        }
        return true;
    }

    @Benchmark
    public Object ceilingNoop() {
        return plain.executeOnKey(KEY, new Noop(false));
    }

    @Benchmark
    public Object ceilingNoopWrite() {
        return plain.executeOnKey(KEY, new Noop(true));
    }

    /** An entry processor that does nothing, or writes a constant (then its backup writes it too). */
    public static final class Noop implements EntryProcessor<String, Object, Object>, DataSerializable {
        private boolean write;

        /** For Hazelcast's deserialization. */
        public Noop() {
        }

        Noop(boolean write) {
            this.write = write;
        }

        @Override
        public Object process(Map.Entry<String, Object> entry) {
            if (write) {
                entry.setValue(1L);
            }
            return null;
        }

        @Override
        public EntryProcessor<String, Object, Object> getBackupProcessor() {
            return write ? this : null;
        }

        @Override
        public void writeData(ObjectDataOutput out) throws java.io.IOException {
            out.writeBoolean(write);
        }

        @Override
        public void readData(ObjectDataInput in) throws java.io.IOException {
            write = in.readBoolean();
        }
    }
}
