package dev.concurry.bench;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.redis.RedisBackend;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.distributed.BucketProxy;
import io.github.bucket4j.distributed.proxy.optimization.Optimizations;
import io.github.bucket4j.redis.lettuce.Bucket4jLettuce;
import io.github.bucket4j.redis.lettuce.cas.LettuceBasedProxyManager;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.redisson.Redisson;
import org.redisson.api.RRateLimiter;
import org.redisson.api.RateType;
import org.redisson.api.RedissonClient;
import org.redisson.config.Config;

/**
 * SPEC N4: distributed rate limiting on a redis-server on loopback, 8 threads on one hot limiter,
 * every call succeeding (limits far above the offered load), so each row measures what one
 * acquisition costs through the wire. Each benchmark (trial) starts its own empty redis-server on a
 * free port in {@code @Setup(Level.Trial)} and stops it in {@code @TearDown}.
 *
 * <ul>
 *   <li>{@code concurry*}: a {@link RedisBackend} set with one rate limit,
 *       {@code tryAcquire(request).orElseThrow().close()} (one {@code EVALSHA}; closing a rate-only
 *       grant needs no round trip).</li>
 *   <li>{@code bucket4jLettuce}: Bucket4j's Lettuce compare-and-swap proxy manager (default
 *       options: unbounded retries), {@code tryConsume(1)} on one bucket.</li>
 *   <li>{@code bucket4jLettuceBatching}: the same with Bucket4j's own request batching
 *       ({@code Optimizations.batching()} on the bucket's builder: requests arriving while one is in
 *       flight are combined into one), Bucket4j's answer to the problem Concurry's group commit
 *       solves.</li>
 *   <li>{@code redissonRateLimiter}: Redisson {@code RRateLimiter.tryAcquire()} (default
 *       options), rate type OVERALL.</li>
 *   <li>{@code ceilingReturn1}: Lettuce {@code EVALSHA} of {@code return 1}: what one script call
 *       costs on this server and client, the ceiling of any one-script design.</li>
 *   <li>{@code ceilingMinimalGcra}: Lettuce {@code EVALSHA} of a 7-line GCRA with the server's
 *       {@code TIME}, {@code GET} and {@code SET}: the ceiling of a useful one-script limiter.</li>
 * </ul>
 *
 * <p>Every client shares one connection between the 8 threads (Lettuce pipelines them), except
 * Redisson, which uses its default pool.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Threads(8)
@State(Scope.Benchmark)
public class N4Redis {
    /** Far above what 8 threads reach on loopback (tens of thousands per second): every call succeeds. */
    static final long HUGE = 1_000_000_000L;
    private static final Duration SECOND = Duration.ofSeconds(1);

    static final String RETURN_1 = "return 1";
    /** GCRA, 1 µs per unit, a burst of 10⁶ units (one second at 10⁶/s), on the server's clock. */
    static final String MINIMAL_GCRA = """
            local t = redis.call('TIME')
            local now = t[1] * 1000000 + t[2]
            local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or now), now)
            local next = tat + tonumber(ARGV[1])
            if next - now > tonumber(ARGV[2]) then return 0 end
            redis.call('SET', KEYS[1], next, 'PX', 60000)
            return 1
            """;
    private static final String[] GCRA_KEYS = {"n4:minimal-gcra"};

    private RedisProcess server;
    private RedisClient lettuce;
    private RedisBackend backend;
    private LimitSet set;
    private final Request request = Request.of("requests", 1);
    private LettuceBasedProxyManager<byte[]> bucket4jManager;
    private BucketProxy bucket;
    private RedissonClient redisson;
    private RRateLimiter rateLimiter;
    private StatefulRedisConnection<String, String> connection;
    private RedisCommands<String, String> commands;
    private String return1Sha;
    private String gcraSha;

    /** Starts the server and builds only what the benchmark about to run needs. */
    @Setup(Level.Trial)
    public void setUp(BenchmarkParams params) {
        String benchmark = params.getBenchmark();
        String method = benchmark.substring(benchmark.lastIndexOf('.') + 1);
        server = RedisProcess.start();
        try {
            lettuce = RedisClient.create(server.uri());
            switch (method) {
                case "concurryGcra" -> concurry(RateAlgorithm.GCRA);
                case "concurryTokenBucket" -> concurry(RateAlgorithm.TOKEN_BUCKET);
                case "concurrySlidingWindow" -> concurry(RateAlgorithm.SLIDING_WINDOW);
                case "bucket4jLettuce" -> {
                    bucket4jManager = Bucket4jLettuce.casBasedBuilder(lettuce).build();
                    bucket = bucket4jManager.getProxy("n4:bucket4j".getBytes(StandardCharsets.UTF_8),
                            N4Redis::bucket4jConfiguration);
                }
                case "bucket4jLettuceBatching" -> {
                    bucket4jManager = Bucket4jLettuce.casBasedBuilder(lettuce).build();
                    bucket = bucket4jManager.builder().withOptimization(Optimizations.batching())
                            .build("n4:bucket4j-batching".getBytes(StandardCharsets.UTF_8),
                                    N4Redis::bucket4jConfiguration);
                }
                case "redissonRateLimiter" -> {
                    Config config = new Config();
                    config.useSingleServer().setAddress(server.uri());
                    redisson = Redisson.create(config);
                    rateLimiter = redisson.getRateLimiter("n4:redisson");
                    if (!rateLimiter.trySetRate(RateType.OVERALL, HUGE, SECOND)) {
                        throw new IllegalStateException("Redisson rate already set on a fresh server");
                    }
                }
                case "ceilingReturn1", "ceilingMinimalGcra" -> {
                    connection = lettuce.connect();
                    commands = connection.sync();
                    return1Sha = commands.scriptLoad(RETURN_1);
                    gcraSha = commands.scriptLoad(MINIMAL_GCRA);
                }
                default -> throw new IllegalArgumentException("no set-up for " + method);
            }
        } catch (RuntimeException e) {
            tearDown();
            throw e;
        }
    }

    private static BucketConfiguration bucket4jConfiguration() {
        return BucketConfiguration.builder().addLimit(limit -> limit.capacity(HUGE).refillGreedy(HUGE, SECOND)).build();
    }

    private void concurry(RateAlgorithm algorithm) {
        backend = RedisBackend.of(lettuce);
        set = LimitSet.builder()
                .name("n4-" + algorithm.name().toLowerCase())
                .add(RateLimit.of("requests", HUGE, SECOND, algorithm))
                .backend(backend)
                .build();
    }

    /** Closes the clients, then stops the server: nothing is left running. */
    @TearDown(Level.Trial)
    public void tearDown() {
        try {
            if (set != null) {
                set.close();
            }
            if (backend != null) {
                backend.close();
            }
            if (connection != null) {
                connection.close();
            }
            if (redisson != null) {
                redisson.shutdown(0, 2, TimeUnit.SECONDS);
            }
            if (lettuce != null) {
                lettuce.shutdown(Duration.ZERO, Duration.ofSeconds(2));
            }
        } finally {
            if (server != null) {
                server.close();
            }
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
    public boolean bucket4jLettuce() {
        return succeeded(bucket.tryConsume(1), "Bucket4j");
    }

    @Benchmark
    public boolean bucket4jLettuceBatching() {
        return succeeded(bucket.tryConsume(1), "Bucket4j with batching");
    }

    @Benchmark
    public boolean redissonRateLimiter() {
        return succeeded(rateLimiter.tryAcquire(), "Redisson");
    }

    @Benchmark
    public Long ceilingReturn1() {
        return commands.evalsha(return1Sha, ScriptOutputType.INTEGER);
    }

    @Benchmark
    public Long ceilingMinimalGcra() {
        Long admitted = commands.evalsha(gcraSha, ScriptOutputType.INTEGER, GCRA_KEYS, "1", "1000000");
        succeeded(admitted == 1L, "the minimal GCRA");
        return admitted;
    }

    private static boolean succeeded(boolean admitted, String who) {
        if (!admitted) {
            throw new IllegalStateException(who + " refused a call: the limit is meant to be far above the load");
        }
        return true;
    }
}
