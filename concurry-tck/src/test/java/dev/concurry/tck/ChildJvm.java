package dev.concurry.tck;

import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A child JVM started with this JVM's {@code java} and class path, talking over its standard input and
 * output; for the shared-memory tests across real processes. Its standard error goes to a file in the
 * test's directory, named in failure messages.
 */
final class ChildJvm implements AutoCloseable {
    /** Offset of the lock word in a shared-memory limit file (see the format in {@code SharedFile}). */
    static final long LOCK_WORD = 48;

    final Process process;
    final Path stderr;
    private final BufferedReader out;
    private final PrintStream in;

    private ChildJvm(Process process, Path stderr) {
        this.process = process;
        this.stderr = stderr;
        this.out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        this.in = new PrintStream(process.getOutputStream(), true, StandardCharsets.UTF_8);
    }

    /** Starts {@code main} with {@code args}; {@code jvmOptions} come before the class name. */
    static ChildJvm start(Path dir, List<String> jvmOptions, Class<?> main, String... args) throws IOException {
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // A crash report goes to the test's directory, not the module's.
        List<String> command = new ArrayList<>(List.of(java, "-Xmx64m",
                "-XX:ErrorFile=" + dir.resolve("hs_err_pid%p.log")));
        command.addAll(jvmOptions);
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
        command.addAll(List.of(args));
        Path stderr = dir.resolve("child-" + System.nanoTime() + ".err");
        return new ChildJvm(new ProcessBuilder(command).redirectError(stderr.toFile()).start(), stderr);
    }

    static ChildJvm start(Path dir, Class<?> main, String... args) throws IOException {
        return start(dir, List.of("-XX:TieredStopAtLevel=1"), main, args);
    }

    long pid() {
        return process.pid();
    }

    /** The child's next line of output (null at its end); fails after 30 s. */
    String readLine() throws Exception {
        CompletableFuture<String> line = CompletableFuture.supplyAsync(() -> {
            try {
                return out.readLine();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        try {
            return line.get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            process.destroyForcibly();
            throw new AssertionError("no line from the child within 30 s; its stderr: " + stderrText(), e);
        }
    }

    void println(String line) {
        in.println(line);
    }

    String stderrText() {
        try {
            return Files.exists(stderr) ? Files.readString(stderr) : "";
        } catch (IOException e) {
            return "(unreadable: " + e + ")";
        }
    }

    /** Waits for the child to exit and returns its exit code; fails after {@code timeout}. */
    int exitCode(Duration timeout) throws InterruptedException {
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            fail("the child did not exit within " + timeout + "; its stderr: " + stderrText());
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        signal("CONT");          // a stopped child must run to die
        process.destroyForcibly();
        process.waitFor(20, TimeUnit.SECONDS);
    }

    // ---- signals (SIGSTOP / SIGCONT through the kill command) ----------------------------------------

    /** Whether {@code kill -STOP} can be used here (a {@code kill} command and Linux's /proc). */
    static boolean canStop() {
        if (!Files.isReadable(Path.of("/proc/self/stat"))) {
            return false;
        }
        try {
            return new ProcessBuilder("kill", "-CONT", Long.toString(ProcessHandle.current().pid()))
                    .redirectErrorStream(true).start().waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** Sends {@code SIG<name>} with the kill command; whether it was delivered. */
    boolean signal(String name) {
        try {
            return new ProcessBuilder("kill", "-" + name, Long.toString(pid())).redirectErrorStream(true).start()
                    .waitFor() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** The state letter of the child in /proc (R, S, T for stopped, Z...), or '?' when it cannot be read. */
    char state() {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid()), "stat"));
            return stat.charAt(stat.lastIndexOf(')') + 2);
        } catch (IOException | RuntimeException e) {
            return '?';
        }
    }

    /**
     * Stops the child (SIGSTOP) at a moment it holds the lock word of {@code file}: stops it, reads the
     * word and lets it go on (SIGCONT) until the word names the child. The child must be taking the
     * lock in a loop.
     */
    void stopInsideLock(Path file) throws Exception {
        for (int attempt = 0; attempt < 2_000; attempt++) {
            if (!signal("STOP")) {
                fail("kill -STOP " + pid() + " failed");
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (state() != 'T' && System.nanoTime() < deadline) {
                LockSupport.parkNanos(100_000);
            }
            if ((readLong(file, LOCK_WORD) & 0xFFFF_FFFFL) == pid()) {
                return;
            }
            signal("CONT");
            LockSupport.parkNanos(ThreadLocalRandom.current().nextLong(100_000, 3_000_000));
        }
        fail("could not stop the child while it held the lock of " + file);
    }

    // ---- reading and writing a limit file behind the library's back ---------------------------------

    static long readLong(Path file, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder());
            while (b.hasRemaining()) {
                if (ch.read(b, offset + b.position()) < 0) {
                    throw new IOException("end of " + file);
                }
            }
            return b.getLong(0);
        }
    }

    static void writeLong(Path file, long offset, long value) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.nativeOrder()).putLong(0, value);
            while (b.hasRemaining()) {
                ch.write(b, offset + b.position());
            }
        }
    }
}
