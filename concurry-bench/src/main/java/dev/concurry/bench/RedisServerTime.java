package dev.concurry.bench;

import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.redis.RedisBackend;
import io.lettuce.core.RedisClient;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.IntConsumer;

/**
 * Issue 20: how much server time one script call costs, measured by the server itself
 * ({@code INFO commandstats}: {@code usec} of {@code EVALSHA} and {@code EVAL}, which includes the
 * commands the script calls), for Concurry's script and for the two ceilings of {@link N4Redis}
 * ({@code return 1} and a minimal GCRA script). Each row runs on a fresh {@code redis-server}: a
 * warm-up, {@code CONFIG RESETSTAT}, then the measured operations. Concurry decides several attempts
 * per call when threads contend (group commit), so its rows also give the attempts per call and the
 * server time per grant. Used by {@code bench/run.sh redis} after the JMH rows.
 *
 * <p>Usage: {@code RedisServerTime [operations per thread]} (default 20,000).
 */
public final class RedisServerTime {
    private static final Request ONE = Request.of("requests", 1);

    private RedisServerTime() {
    }

    /** One row: script calls the server ran, their total time, and the operations they served. */
    record Row(String what, int threads, long operations, long calls, long usec) {
        double usecPerCall() {
            return (double) usec / calls;
        }

        double usecPerOperation() {
            return (double) usec / operations;
        }

        double operationsPerCall() {
            return (double) operations / calls;
        }
    }

    public static void main(String[] args) throws Exception {
        int perThread = args.length > 0 ? Integer.parseInt(args[0]) : 20_000;
        List<Row> rows = new ArrayList<>();
        rows.add(ceiling("ceiling `return 1`", N4Redis.RETURN_1, 8, perThread));
        rows.add(ceiling("ceiling minimal GCRA", N4Redis.MINIMAL_GCRA, 8, perThread));
        rows.add(ceiling("ceiling minimal GCRA", N4Redis.MINIMAL_GCRA, 1, perThread));
        for (RateAlgorithm algorithm : new RateAlgorithm[] {RateAlgorithm.GCRA, RateAlgorithm.TOKEN_BUCKET,
                RateAlgorithm.SLIDING_WINDOW}) {
            rows.add(concurry(algorithm, 1, perThread));
            rows.add(concurry(algorithm, 8, perThread));
        }
        System.out.println(table(rows));
    }

    /** The Markdown table of {@code rows}. */
    static String table(List<Row> rows) {
        StringBuilder out = new StringBuilder();
        out.append("| Row | threads | operations | script calls | operations per call | server µs per call"
                + " | server µs per operation |\n|---|---|---|---|---|---|---|\n");
        for (Row r : rows) {
            out.append(String.format(Locale.ROOT, "| %s | %d | %,d | %,d | %.2f | %.2f | %.2f |%n", r.what(),
                    r.threads(), r.operations(), r.calls(), r.operationsPerCall(), r.usecPerCall(),
                    r.usecPerOperation()));
        }
        return out.toString();
    }

    private static Row ceiling(String label, String source, int threads, int perThread) throws Exception {
        try (RedisProcess server = RedisProcess.start()) {
            RedisClient lettuce = RedisClient.create(server.uri());
            try (StatefulRedisConnection<String, String> connection = lettuce.connect()) {
                RedisCommands<String, String> commands = connection.sync();
                String sha = commands.scriptLoad(source);
                String[] keys = {"n4:minimal-gcra"};
                IntConsumer call = i -> commands.evalsha(sha, ScriptOutputType.INTEGER, keys, "1", "1000000");
                return measure(label, threads, perThread, commands, call);
            } finally {
                lettuce.shutdown(Duration.ZERO, Duration.ofSeconds(2));
            }
        }
    }

    private static Row concurry(RateAlgorithm algorithm, int threads, int perThread) throws Exception {
        try (RedisProcess server = RedisProcess.start()) {
            RedisClient lettuce = RedisClient.create(server.uri());
            try (RedisBackend backend = RedisBackend.of(lettuce);
                    StatefulRedisConnection<String, String> connection = lettuce.connect();
                    LimitSet set = LimitSet.builder().name("server-time")
                            .add(RateLimit.of("requests", N4Redis.HUGE, Duration.ofSeconds(1), algorithm))
                            .backend(backend).build()) {
                IntConsumer grant = i -> set.tryAcquire(ONE).orElseThrow(
                        () -> new IllegalStateException("refused: the limit is meant to be far above the load"))
                        .close();
                return measure("Concurry " + algorithm, threads, perThread, connection.sync(), grant);
            } finally {
                lettuce.shutdown(Duration.ZERO, Duration.ofSeconds(2));
            }
        }
    }

    /** Runs {@code operation} {@code perThread} times on each of {@code threads} threads, after a warm-up. */
    private static Row measure(String label, int threads, int perThread, RedisCommands<String, String> admin,
            IntConsumer operation) throws InterruptedException {
        run(threads, Math.max(1_000, perThread / 10), operation);
        admin.configResetstat();
        run(threads, perThread, operation);
        long calls = 0;
        long usec = 0;
        for (String line : admin.info("commandstats").split("\r?\n")) {
            if (line.startsWith("cmdstat_evalsha:") || line.startsWith("cmdstat_eval:")) {
                calls += field(line, "calls");
                usec += field(line, "usec");
            }
        }
        return new Row(label, threads, (long) threads * perThread, calls, usec);
    }

    private static void run(int threads, int perThread, IntConsumer operation) throws InterruptedException {
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            workers.add(Thread.ofPlatform().start(() -> {
                for (int i = 0; i < perThread; i++) {
                    operation.accept(i);
                }
            }));
        }
        for (Thread worker : workers) {
            worker.join();
        }
    }

    /** {@code name=value} in a commandstats line such as {@code cmdstat_evalsha:calls=3,usec=40,usec_per_call=13.33}. */
    private static long field(String line, String name) {
        int at = line.indexOf(name + "=");
        int end = line.indexOf(',', at);
        return Long.parseLong(line.substring(at + name.length() + 1, end < 0 ? line.length() : end));
    }
}
