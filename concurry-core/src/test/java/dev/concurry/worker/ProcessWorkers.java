package dev.concurry.worker;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Request;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;

/** Workers and helpers for the process-mode tests; every method works in every mode. */
final class ProcessWorkers {
    /** Fast-starting child JVMs for tests. */
    static final String[] JVM = {"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xshare:auto", "-Xmx64m"};

    private ProcessWorkers() {
    }

    /** A stateful worker whose calls report where they ran. */
    public static class Calc extends Worker {
        private int total;

        public int add(int n) {
            total += n;
            return total;
        }

        public long pid() {
            return ProcessHandle.current().pid();
        }

        public String echo(String s) {
            return s + "@" + pid();
        }

        public String failUnchecked(String message) {
            throw new IllegalArgumentException(message);
        }

        public String failChecked(String message) throws IOException {
            throw new IOException(message);
        }

        /** Prints to System.out (which must not reach the pipe) and returns. */
        public String noisy() {
            System.out.println("some user output on System.out");
            System.out.flush();
            return "quiet";
        }

        public String limiterKind() {
            return limits() == LimitSet.empty() ? "empty" : ((LimitSet) limits()).backend().name();
        }

        /** Writes {@code started} in {@code dir}, then sleeps; on interrupt writes {@code interrupted}. */
        public String sleep(String dir, Duration duration) throws InterruptedException, IOException {
            Files.writeString(Path.of(dir, "started"), Long.toString(pid()));
            try {
                Thread.sleep(duration);
            } catch (InterruptedException e) {
                Files.writeString(Path.of(dir, "interrupted"), "yes");
                throw e;
            }
            return "slept";
        }

        /** Sleeps ignoring interrupts (a call that close() can only stop by killing the process). */
        public String stubborn(String dir, Duration duration) throws IOException {
            Files.writeString(Path.of(dir, "started"), Long.toString(pid()));
            long end = System.nanoTime() + duration.toNanos();
            while (System.nanoTime() < end) {
                try {
                    Thread.sleep(10);
                } catch (InterruptedException ignored) {
                    // keeps going
                }
            }
            return "stubborn";
        }

        public Object unserializableResult() {
            return new Opaque("secret-ish state");
        }

        public String unserializableFailure() {
            throw new OpaqueException(new Opaque("inside"));
        }

        /** Fails with an exception that cannot be serialized and whose message overflows the stack. */
        public String indescribableFailure() {
            throw new CyclicException(new Opaque("cycle"));
        }

        /** A value of a JDK module that the filter refuses. */
        public Object forbiddenResult() throws Exception {
            return new javax.management.ObjectName("concurry:type=Test");
        }

        /** Holds db_conn for {@code millis}, appending enter/exit lines (pid, nanoTime) to {@code log}. */
        public String hold(String log, long millis) throws Exception {
            try (Acquisition acq = limits().acquire(Request.of("db_conn", 1))) {
                append(log, "enter " + pid() + " " + System.nanoTime());
                Thread.sleep(millis);
                append(log, "exit " + pid() + " " + System.nanoTime());
            }
            return "held";
        }

        /** Takes {@code units} of "tpm" from its limiter (a pool of regions), logging region and grant times. */
        public String region(String log, double units) throws Exception {
            long before = System.nanoTime();
            try (Acquisition acq = limits().acquire(Request.of("tpm", units))) {
                String region = acq.config().get("region");
                append(log, region + " " + before + " " + System.nanoTime() + " " + units);
                return region;
            }
        }

        private static void append(String log, String line) throws IOException {
            // O_APPEND writes of one short line are atomic across processes
            Files.writeString(Path.of(log), line + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND,
                    StandardOpenOption.WRITE);
        }
    }

    /** Not serializable. */
    static final class Opaque {
        final String state;

        Opaque(String state) {
            this.state = state;
        }

        @Override
        public String toString() {
            return "Opaque[" + state + "]";
        }
    }

    /** An exception with a field that cannot be serialized. */
    static final class OpaqueException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        @SuppressWarnings("serial")
        final Opaque opaque;

        OpaqueException(Opaque opaque) {
            super("failed holding " + opaque);
            this.opaque = opaque;
        }
    }

    /** Not serializable, and describing it recurses until the stack overflows (getMessage uses toString). */
    static final class CyclicException extends RuntimeException {
        private static final long serialVersionUID = 1L;
        @SuppressWarnings("serial")
        final Opaque opaque;

        CyclicException(Opaque opaque) {
            this.opaque = opaque;
        }

        @Override
        public String getMessage() {
            return "cyclic " + this;
        }
    }

    /** A serializable value, for results of user types. */
    record Point(int x, int y, List<String> tags) implements Serializable {
    }
}
