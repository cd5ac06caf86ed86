package dev.concurry.cli;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import javax.sql.DataSource;

/**
 * The seed's Scenario 2: 20 workers, a database that allows 5 connections. A real PostgreSQL server
 * (embedded, from Maven Central) refuses connections beyond its {@code max_connections} itself. It is
 * started with 5 + {@link #EXITING_SLACK}: PostgreSQL frees a slot only once the backend process has
 * exited, a moment after its client hung up, so up to one slot per worker-in-the-guarded-section may
 * still be taken by a backend on its way out. Each query opens its own connection inside a
 * {@code ResourceLimit("db_conn", 5)}.
 */
final class DbScenario {
    static final int CONNECTIONS = 5;
    static final int EXITING_SLACK = CONNECTIONS;

    /** What one run measured. */
    record Result(boolean limited, int workers, Duration elapsed, long queries, long ok, long refused,
                  int maxConcurrent) {

        void print(PrintWriter out) {
            out.printf("%n  Database, %s: %d workers, PostgreSQL max_connections = %d (%d + %d for backends still exiting)%n",
                    limited ? "with ResourceLimit db_conn = " + CONNECTIONS : "WITHOUT limits", workers,
                    CONNECTIONS + EXITING_SLACK, CONNECTIONS, EXITING_SLACK);
            out.printf("  %-34s %10d%n", "queries attempted", queries);
            out.printf("  %-34s %10d%n", "queries answered", ok);
            out.printf("  %-34s %10d%n", "connections refused by the server", refused);
            out.printf("  %-34s %10d%n", "most connections in use at once", maxConcurrent);
            out.printf("  %-34s %10.1f%n", "queries per second", ok / (elapsed.toNanos() / 1e9));
            out.flush();
        }
    }

    private final int workers;
    private final Duration duration;
    private final boolean limited;

    DbScenario(int workers, Duration duration, boolean limited) {
        this.workers = workers;
        this.duration = duration;
        this.limited = limited;
    }

    Result run() throws IOException, InterruptedException {
        LimitSet limits = limited
                ? LimitSet.builder().add(ResourceLimit.of("db_conn", CONNECTIONS)).build()
                : LimitSet.empty();
        Request connection = Request.of("db_conn", 1);
        AtomicLong queries = new AtomicLong();
        AtomicLong ok = new AtomicLong();
        AtomicLong refused = new AtomicLong();
        AtomicInteger open = new AtomicInteger();
        AtomicInteger maxOpen = new AtomicInteger();
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder()
                     .setServerConfig("max_connections", String.valueOf(CONNECTIONS + EXITING_SLACK))
                     .setServerConfig("superuser_reserved_connections", "0")
                     .start();
             ExecutorService pool = Executors.newFixedThreadPool(workers)) {
            DataSource db = postgres.getPostgresDatabase();
            long start = System.nanoTime();
            long end = start + duration.toNanos();
            List<Future<?>> running = new ArrayList<>();
            for (int i = 0; i < workers; i++) {
                running.add(pool.submit(() -> {
                    while (System.nanoTime() < end) {
                        queries.incrementAndGet();
                        try (Acquisition acq = limits.acquire(connection);
                             Connection c = db.getConnection();
                             Statement st = c.createStatement()) {
                            maxOpen.accumulateAndGet(open.incrementAndGet(), Math::max);
                            try {
                                st.execute("SELECT pg_sleep(0.02)");
                                ok.incrementAndGet();
                            } finally {
                                open.decrementAndGet();
                            }
                        } catch (SQLException e) {
                            if (!"53300".equals(e.getSQLState())) {       // too_many_connections
                                throw e;
                            }
                            refused.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : running) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    throw new IllegalStateException("a demo worker failed: " + e.getCause(), e.getCause());
                }
            }
            return new Result(limited, workers, Duration.ofNanos(System.nanoTime() - start), queries.get(), ok.get(),
                    refused.get(), maxOpen.get());
        } finally {
            limits.close();
        }
    }
}
