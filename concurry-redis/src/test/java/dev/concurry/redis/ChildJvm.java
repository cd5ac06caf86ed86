package dev.concurry.redis;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import io.lettuce.core.RedisClient;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The program the multi-JVM tests start in child JVMs (same classpath as the tests).
 * <ul>
 *   <li>{@code hammer <uri> <set> <capacity> <windowMs> <runMs> <threads> <log>}: acquires one
 *       request at a time on every thread until {@code runMs} has passed, writing the script's grant
 *       time (ns since the set's epoch, on the Redis server's clock) of every grant to {@code log}.</li>
 *   <li>{@code hold <uri> <set> <leaseMs>}: takes the one permit of {@code conn}, prints {@code HELD}
 *       and waits to be killed.</li>
 *   <li>{@code fair <uri> <set> <leaseMs> <threads> <holdMicros> <log>}: a mutex ({@code conn}, one
 *       permit) wanted by every thread all the time. Prints {@code READY}, reads {@code GO <end>} (a
 *       {@link System#nanoTime} reading, one clock for every JVM of this host) on stdin, then each thread
 *       acquires, holds the permit for {@code holdMicros}, releases, and again, until {@code end}. Each
 *       grant is logged as three readings: before {@code acquire}, after it returned, before
 *       {@code close}.</li>
 * </ul>
 */
public final class ChildJvm {
    private ChildJvm() {
    }

    public static void main(String[] args) throws Exception {
        RedisClient client = RedisClient.create(args[1]);
        switch (args[0]) {
            case "hammer" -> hammer(client, args);
            case "hold" -> hold(client, args);
            case "fair" -> fair(client, args);
            default -> throw new IllegalArgumentException(args[0]);
        }
    }

    static LimitSet hammered(RedisBackend backend, String name, double capacity, long windowMs) {
        return LimitSet.builder().name(name).add(RateLimit.of("requests", capacity, Duration.ofMillis(windowMs)))
                .backend(backend).build();
    }

    private static void hammer(RedisClient client, String[] args) throws Exception {
        RedisBackend backend = RedisBackend.of(client);
        LimitSet set = hammered(backend, args[2], Double.parseDouble(args[3]), Long.parseLong(args[4]));
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Long.parseLong(args[5]));
        int threads = Integer.parseInt(args[6]);
        List<String> grants = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Thread> workers = new ArrayList<>();
        Request one = Request.of("requests", 1);
        for (int t = 0; t < threads; t++) {
            workers.add(Thread.ofPlatform().start(() -> {
                while (System.nanoTime() < end) {
                    long before = System.nanoTime();
                    try (Acquisition acq = set.acquire(one, Duration.ofSeconds(5))) {
                        grants.add(before + " " + System.nanoTime());
                    }
                }
            }));
        }
        for (Thread w : workers) {
            w.join();
        }
        try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(Path.of(args[7])))) {
            grants.forEach(out::println);
        }
        set.close();
        backend.close();
        client.shutdown();
    }

    private static void hold(RedisClient client, String[] args) throws IOException, InterruptedException {
        RedisBackend backend = RedisBackend.builder(client).leaseDuration(Duration.ofMillis(Long.parseLong(args[3])))
                .build();
        LimitSet set = LimitSet.builder().name(args[2]).add(ResourceLimit.of("conn", 1)).backend(backend).build();
        set.acquire(Request.of("conn", 1));
        System.out.println("HELD");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    private static void fair(RedisClient client, String[] args) throws Exception {
        RedisBackend backend = RedisBackend.builder(client).leaseDuration(Duration.ofMillis(Long.parseLong(args[3])))
                .build();
        LimitSet set = LimitSet.builder().name(args[2]).add(ResourceLimit.of("conn", 1)).backend(backend).build();
        Request conn = Request.of("conn", 1);
        set.acquire(conn).close();
        long hold = TimeUnit.MICROSECONDS.toNanos(Long.parseLong(args[5]));
        List<String> grants = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.concurrent.CompletableFuture<Long> go = new java.util.concurrent.CompletableFuture<>();
        List<Thread> workers = new ArrayList<>();
        for (int t = 0; t < Integer.parseInt(args[4]); t++) {
            workers.add(Thread.ofPlatform().start(() -> {
                long end = go.join();     // started before GO, so that all begin together
                while (System.nanoTime() < end) {
                    long queued = System.nanoTime();
                    Acquisition acq = set.acquire(conn);
                    long granted = System.nanoTime();
                    java.util.concurrent.locks.LockSupport.parkNanos(hold);
                    long released = System.nanoTime();
                    acq.close();
                    grants.add(queued + " " + granted + " " + released);
                }
            }));
        }
        System.out.println("READY");
        System.out.flush();
        String line = new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine();
        go.complete(Long.parseLong(line.substring(3)));
        for (Thread w : workers) {
            w.join();
        }
        try (PrintWriter out = new PrintWriter(Files.newBufferedWriter(Path.of(args[6])))) {
            grants.forEach(out::println);
        }
        set.close();
        backend.close();
        client.shutdown();
    }

    /** Starts {@code ChildJvm} with {@code args} in a new JVM on the test classpath; its stdin is a pipe from here. */
    static Process start(Path output, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx128m", "-cp", System.getProperty("java.class.path"), ChildJvm.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(output.toFile()).start();
    }
}
