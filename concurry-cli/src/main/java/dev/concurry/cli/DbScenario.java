package dev.concurry.cli;

import dev.concurry.limit.ResourceLimit;
import dev.concurry.progress.Progress;
import dev.concurry.progress.ProgressTracker;
import dev.concurry.worker.Futures;
import dev.concurry.worker.Mode;
import dev.concurry.worker.Worker;
import dev.concurry.worker.WorkerPool;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The seed's Scenario 2: 20 workers, a database that allows 5 connections. A real PostgreSQL server
 * (embedded, from Maven Central) refuses connections beyond its {@code max_connections} itself. It is
 * started with 5 + {@link #EXITING_SLACK}: PostgreSQL frees a slot only once the backend process has
 * exited, a moment after its client hung up, so up to one slot per worker-in-the-guarded-section may
 * still be taken by a backend on its way out. Each query opens its own connection inside a
 * {@code ResourceLimit("db_conn", 5)} shared by a pool of {@link DbWorker}s.
 */
final class DbScenario {
    static final int CONNECTIONS = 5;
    static final int EXITING_SLACK = CONNECTIONS;

    /** What one run measured. */
    record Result(boolean limited, int workers, Mode mode, Duration elapsed, long queries, long ok, long refused,
            int maxConcurrent) {

        void print(PrintWriter out) {
            out.printf(
                    "%n  Database, %s: %d %s workers, PostgreSQL max_connections = %d (%d + %d for backends still exiting)%n",
                    limited ? "with ResourceLimit db_conn = " + CONNECTIONS : "WITHOUT limits", workers, mode,
                    CONNECTIONS + EXITING_SLACK, CONNECTIONS, EXITING_SLACK);
            out.printf("  %-34s %10d%n", "queries attempted", queries);
            out.printf("  %-34s %10d%n", "queries answered", ok);
            out.printf("  %-34s %10d%n", "connections refused by the server", refused);
            out.printf("  %-34s %10d%n", "most connections open at once", maxConcurrent);
            out.printf("  %-34s %10.1f%n", "queries per second", ok / (elapsed.toNanos() / 1e9));
            out.flush();
        }
    }

    private final int workers;
    private final Mode mode;
    private final Duration duration;
    private final boolean limited;

    DbScenario(int workers, Mode mode, Duration duration, boolean limited) {
        this.workers = workers;
        this.mode = mode;
        this.duration = duration;
        this.limited = limited;
    }

    Result run() throws IOException {
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder()
                .setServerConfig("max_connections", String.valueOf(CONNECTIONS + EXITING_SLACK))
                .setServerConfig("superuser_reserved_connections", "0")
                .start();
                WorkerPool<DbWorker> pool = workers(postgres.getJdbcUrl("postgres", "postgres"))) {
            // One query per worker first, not counted: a child JVM's first connection loads and compiles
            // the JDBC driver, which would otherwise fill the measured run.
            List<CompletableFuture<DbWorker.Outcome>> warmUp = new ArrayList<>();
            for (int i = 0; i < workers; i++) {
                warmUp.add(pool.submit(w -> w.query("SELECT 1")));
            }
            Futures.gather(warmUp);
            long start = System.nanoTime();
            long end = start + duration.toNanos();
            List<CompletableFuture<DbWorker.Outcome>> queries = new ArrayList<>();
            List<DbWorker.Outcome> outcomes;
            try (ProgressTracker progress = Progress.bar("db " + (limited ? "with limits" : "without limits"))
                    .startFor(duration)) {
                while (System.nanoTime() < end) {
                    CompletableFuture<DbWorker.Outcome> query = pool.submit(w -> w.query("SELECT pg_sleep(0.02)"));
                    query.whenComplete((outcome, failure) -> progress.step());
                    queries.add(query);             // submit blocks while the workers' queues are full
                }
                outcomes = Futures.gather(queries);
            }
            return new Result(limited, workers, mode, Duration.ofNanos(System.nanoTime() - start), outcomes.size(),
                    outcomes.stream().filter(DbWorker.Outcome::ok).count(),
                    outcomes.stream().filter(o -> !o.ok()).count(), mostOpenAtOnce(outcomes));
        }
    }

    private WorkerPool<DbWorker> workers(String jdbcUrl) {
        var options = Worker.options(DbWorker.class).mode(mode).maxWorkers(workers).maxQueuedTasks(2).name("db");
        if (limited) {
            // plain specs: one set shared by the pool (in shared memory when the workers are processes)
            options.limits(ResourceLimit.of("db_conn", CONNECTIONS));
        }
        return options.init(() -> new DbWorker(jdbcUrl));
    }

    /** The most connections open at one instant, from the workers' own log of open/close times. */
    static int mostOpenAtOnce(List<DbWorker.Outcome> outcomes) {
        List<long[]> events = new ArrayList<>();
        for (DbWorker.Outcome o : outcomes) {
            events.add(new long[] {o.opened(), 1});
            events.add(new long[] {o.closed(), -1});
        }
        events.sort((a, b) -> a[0] != b[0] ? Long.compare(a[0], b[0]) : Long.compare(a[1], b[1]));
        int open = 0;
        int most = 0;
        for (long[] e : events) {
            open += (int) e[1];
            most = Math.max(most, open);
        }
        return most;
    }
}
