package dev.concurry.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A real {@code redis-server} process on a free loopback port, for tests: the one on the PATH, else
 * the Linux binary shipped in {@code com.github.codemonstur:embedded-redis} (Redis 6.2); if neither
 * can run, tests using it are skipped with a message saying how to install Redis. Public, in this
 * module's test jar, for the tests of modules built on it (the Spring Boot starter).
 */
public final class RedisServer implements AutoCloseable {
    private static volatile Optional<Path> binary;

    private final Path dir;
    private final List<String> extra;
    /** The loopback port it listens on. */
    public final int port;
    private Process process;

    private RedisServer(int port, List<String> extra) throws IOException {
        this.port = port;
        this.extra = extra;
        this.dir = Files.createTempDirectory("concurry-redis-" + port);
    }

    /** Starts a server on a free port, or skips the test when no redis-server is available. */
    public static RedisServer start(String... extraArgs) {
        Path server = binary().orElse(null);
        Assumptions.assumeTrue(server != null, "no redis-server on the PATH and the embedded-redis binary cannot run"
                + " here; install Redis (apt-get install -y redis-server) to run the Redis tests");
        RedisServer r = null;
        try {
            r = new RedisServer(freePort(), List.of(extraArgs));
            r.startProcess();
            return r;
        } catch (IOException e) {
            if (r != null) {
                r.stop();   // never leave a half-started server behind
            }
            throw new UncheckedIOException(e);
        }
    }

    /** {@code redis://127.0.0.1:<port>}. */
    public String uri() {
        return "redis://127.0.0.1:" + port;
    }

    /** Kills the process (as a crash would) and waits until it is gone. */
    public void stop() {
        if (process != null) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            process = null;
        }
    }

    /** Starts the process again on the same port (empty: no persistence). */
    void restart() {
        stop();
        try {
            startProcess();
        } catch (IOException e) {
            stop();
            throw new UncheckedIOException(e);
        }
    }

    /** Sends one inline command and returns the first reply line (for set-up, no client needed). */
    String command(String line) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = s.getInputStream();
            StringBuilder reply = new StringBuilder();
            int c;
            while ((c = in.read()) != -1 && c != '\n') {
                if (c != '\r') {
                    reply.append((char) c);
                }
            }
            return reply.toString();
        }
    }

    @Override
    public void close() {
        stop();
    }

    private void startProcess() throws IOException {
        List<String> cmd = new ArrayList<>(List.of(binary().orElseThrow().toString(), "--port", Integer.toString(port),
                "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString(),
                "--protected-mode", "no"));
        cmd.addAll(extra);
        process = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("redis.log").toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            try {
                String pong = command("PING");
                if (pong.equals("+PONG") || pong.startsWith("-NOAUTH")) {
                    return;
                }
            } catch (IOException notYet) {
                // starting
            }
            if (!process.isAlive()) {
                throw new IOException("redis-server exited: " + Files.readString(dir.resolve("redis.log")));
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
        }
        throw new IOException("redis-server did not answer PING on port " + port);
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            return s.getLocalPort();
        }
    }

    static synchronized Optional<Path> binary() {
        if (binary == null) {
            binary = Optional.ofNullable(find());
        }
        return binary;
    }

    private static Path find() {
        // -Dconcurry.redis.server=embedded tests against the embedded-redis binary (Redis 6.2) instead.
        boolean embeddedOnly = "embedded".equals(System.getProperty("concurry.redis.server"));
        for (String dir : embeddedOnly
                ? new String[0]
                : System.getenv().getOrDefault("PATH", "").split(java.io.File.pathSeparator)) {
            Path p = Path.of(dir, "redis-server");
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        String os = System.getProperty("os.name").toLowerCase();
        String arch = System.getProperty("os.arch");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            return null;
        }
        try (InputStream in = RedisServer.class.getResourceAsStream("/redis-server-6.2.6-v5-linux-amd64")) {
            if (in == null) {
                return null;
            }
            Path file = Files.createTempFile("redis-server-", "");
            Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            file.toFile().setExecutable(true);
            file.toFile().deleteOnExit();
            Process check = new ProcessBuilder(file.toString(), "--version").redirectErrorStream(true).start();
            return check.waitFor(10, TimeUnit.SECONDS) && check.exitValue() == 0 ? file : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
