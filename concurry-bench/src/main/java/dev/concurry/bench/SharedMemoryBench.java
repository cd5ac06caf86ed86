package dev.concurry.bench;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.Backends;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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

/**
 * SPEC N3: {@code tryAcquire(request).orElseThrow().close()} of one TOKEN_BUCKET rate limit (10⁹ per
 * second, far above the offered load, so every call succeeds) on a set in
 * {@link Backends#sharedMemory(Path) shared memory}, on 1 thread of the benchmark JVM.
 * {@link N3SingleJvm} has that JVM alone on the file; in {@link N3TwoJvms} a second JVM, started by
 * the setup with the same {@code java} and class path ({@link SharedMemoryHammer}), runs the same
 * operation in a loop on the same file for the whole trial, so every acquisition contends for the
 * file's lock with another process.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@State(Scope.Benchmark)
@Threads(1)
public abstract class SharedMemoryBench {
    /** The set's name, shared by both JVMs. */
    static final String SET_NAME = "bench-n3";

    /** What the last trial's child JVM reported and how it ended, for the smoke test. */
    public record ChildRun(int exitCode, long operations, double seconds) {
    }

    private static volatile ChildRun lastChild;

    private Path dir;
    private LimitSet set;
    private final Request request = Request.of("requests", 1);
    private Process child;
    private BufferedReader childOut;

    /** Whether a second JVM hammers the file during the trial. */
    abstract boolean twoJvms();

    /** The set both JVMs build on {@code file}: the same name and limit. */
    static LimitSet open(Path file) {
        return LimitSet.builder()
                .name(SET_NAME)
                .add(RateLimit.of("requests", Limiters.HUGE, Duration.ofSeconds(1), RateAlgorithm.TOKEN_BUCKET))
                .backend(Backends.sharedMemory(file))
                .build();
    }

    @Setup(Level.Trial)
    public void setUp() throws IOException, InterruptedException {
        dir = Files.createTempDirectory("concurry-n3-");
        Path file = dir.resolve("bench.limits");
        set = open(file);     // created here, before the child opens it
        if (twoJvms()) {
            startChild(file);
        }
    }

    private void startChild(Path file) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        child = new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"),
                SharedMemoryHammer.class.getName(), file.toString()))
                .redirectErrorStream(true)
                .start();
        childOut = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        String line = awaitLine(SharedMemoryHammer.READY, Duration.ofSeconds(30));
        if (line == null) {
            child.destroyForcibly();
            child.waitFor(10, TimeUnit.SECONDS);
            String exit = child.isAlive() ? "none yet" : Integer.toString(child.exitValue());
            child = null;
            throw new IllegalStateException("the second JVM did not start (exit code " + exit + ")");
        }
    }

    /**
     * Reads the child's output until a line starting with {@code prefix} (returned), the end of its
     * output or {@code timeout} (null). Other lines (JVM warnings) are echoed to standard error.
     */
    private String awaitLine(String prefix, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return null;
            }
            String line = readLine(Duration.ofNanos(left));
            if (line == null) {
                return null;
            }
            if (line.startsWith(prefix)) {
                return line;
            }
            System.err.println("[second JVM] " + line);
        }
    }

    /** The child's next line of output, or null if it exits or {@code timeout} passes first. */
    private String readLine(Duration timeout) throws InterruptedException {
        String[] line = new String[1];
        Thread reader = Thread.ofVirtual().start(() -> {
            try {
                line[0] = childOut.readLine();
            } catch (IOException e) {
                line[0] = "(read failed: " + e + ")";
            }
        });
        reader.join(timeout);
        return line[0];
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException, InterruptedException {
        try {
            if (child != null) {
                stopChild();
            }
        } finally {
            set.close();
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    private void stopChild() throws IOException, InterruptedException {
        long operations = -1;
        double seconds = Double.NaN;
        try (Writer in = new java.io.OutputStreamWriter(child.getOutputStream(), StandardCharsets.UTF_8)) {
            in.write(SharedMemoryHammer.STOP + "\n");
        } catch (IOException e) {
            // it already exited: waitFor says how
        }
        String line = awaitLine(SharedMemoryHammer.DONE, Duration.ofSeconds(10));
        if (line != null) {
            String[] parts = line.split(" ");
            operations = Long.parseLong(parts[1]);
            seconds = Double.parseDouble(parts[2]);
        }
        if (!child.waitFor(10, TimeUnit.SECONDS)) {
            child.destroyForcibly();     // a last resort: the shared file tolerates a killed process
            child.waitFor(10, TimeUnit.SECONDS);
        }
        int exit = child.isAlive() ? -1 : child.exitValue();
        lastChild = new ChildRun(exit, operations, seconds);
        System.out.printf(java.util.Locale.ROOT,
                "%n[N3] second JVM: %d acquisitions in %.1f s (%.0f ns each), exit code %d%n",
                operations, seconds, seconds * 1e9 / operations, exit);
        child = null;
    }

    /** The child JVM of the last {@link N3TwoJvms} trial in this JVM, or null. */
    public static ChildRun lastChild() {
        return lastChild;
    }

    @Benchmark
    public Acquisition concurryTokenBucket() {
        Acquisition acquisition = set.tryAcquire(request).orElseThrow();
        acquisition.close();
        return acquisition;
    }
}
