package dev.concurry.bench;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A {@code redis-server} process on a free loopback port, without persistence, for the N4
 * benchmarks: the binary named by {@code -Dconcurry.redis.server=/path}, else the one on the PATH,
 * else {@code /usr/bin/redis-server}. The minimal logic of concurry-redis's test helper
 * {@code RedisServer}, copied because test classes are not shipped.
 *
 * <p>{@link #close()} kills the process; a shutdown hook does it too if the JVM exits first, so no
 * server is left running (except after a {@code kill -9} of the benchmark JVM).
 */
final class RedisProcess implements AutoCloseable {
    private final Path dir;
    private final Process process;
    private final Thread hook;
    final int port;

    private RedisProcess(Path binary) throws IOException {
        this.port = freePort();
        this.dir = Files.createTempDirectory("concurry-bench-redis-" + port);
        List<String> cmd = List.of(binary.toString(), "--port", Integer.toString(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", dir.toString(), "--protected-mode", "no");
        this.process = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("redis.log").toFile()).start();
        this.hook = new Thread(this::kill, "redis-server-" + port + "-killer");
        Runtime.getRuntime().addShutdownHook(hook);
    }

    /** The redis-server binary this machine has, if any. */
    static Optional<Path> binary() {
        String configured = System.getProperty("concurry.redis.server");
        if (configured != null && !configured.isBlank()) {
            Path p = Path.of(configured);
            return Files.isExecutable(p) ? Optional.of(p) : Optional.empty();
        }
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(d.isEmpty() ? "." : d, "redis-server");
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        Path debian = Path.of("/usr/bin/redis-server");
        return Files.isExecutable(debian) ? Optional.of(debian) : Optional.empty();
    }

    /** Starts a server on a free loopback port and waits until it answers PING. */
    static RedisProcess start() {
        Path binary = binary().orElseThrow(() -> new IllegalStateException(
                "no redis-server found (PATH, /usr/bin, -Dconcurry.redis.server); install one, for example"
                        + " apt-get install -y redis-server"));
        RedisProcess r = null;
        try {
            r = new RedisProcess(binary);
            r.awaitPong();
            return r;
        } catch (IOException e) {
            if (r != null) {
                r.close();    // never leave a half-started server behind
            }
            throw new IllegalStateException("could not start " + binary + ": " + e.getMessage(), e);
        }
    }

    String uri() {
        return "redis://127.0.0.1:" + port;
    }

    @Override
    public void close() {
        kill();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or has run
        }
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temporary directory left behind is harmless
        }
    }

    private void kill() {
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void awaitPong() throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            try {
                if (ping().equals("+PONG")) {
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

    private String ping() throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
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

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            return s.getLocalPort();
        }
    }
}
