package dev.concurry.cli;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Request;
import dev.concurry.worker.Worker;
import java.io.Serializable;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;

/** The seed's {@code DBWorker}: every query opens its own connection inside {@code db_conn}. */
public final class DbWorker extends Worker {
    /** One query: answered or refused by the server, and when the connection was open (nanoTime). */
    record Outcome(boolean ok, long opened, long closed) implements Serializable {
    }

    private static final Request CONNECTION = Request.of("db_conn", 1);
    private final String jdbcUrl;

    DbWorker(String jdbcUrl) {
        this.jdbcUrl = jdbcUrl;
    }

    Outcome query(String sql) throws SQLException {
        try (Acquisition conn = limits().acquire(CONNECTION)) {      // blocks while 5 are held
            long opened = System.nanoTime();
            try (Connection c = DriverManager.getConnection(jdbcUrl, "postgres", "postgres");
                    Statement st = c.createStatement()) {
                st.execute(sql);
            } catch (SQLException e) {
                if (!"53300".equals(e.getSQLState())) {              // 53300: too_many_connections
                    throw e;
                }
                return new Outcome(false, opened, System.nanoTime());
            }
            return new Outcome(true, opened, System.nanoTime());
        }                                                              // released on every exit path
    }
}
