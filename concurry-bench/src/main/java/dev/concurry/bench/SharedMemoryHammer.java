package dev.concurry.bench;

import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Request;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The second JVM of {@link N3TwoJvms}: opens the shared-memory set in the file given as the argument,
 * prints {@value #READY}, then runs {@code tryAcquire(request).orElseThrow().close()} in a loop on one
 * thread until a line {@value #STOP} (or the end of its standard input: the parent is gone) arrives,
 * and prints {@code DONE <operations> <seconds>}. Killing it is safe too: the file never stays torn.
 */
public final class SharedMemoryHammer {
    static final String READY = "READY";
    static final String STOP = "STOP";
    static final String DONE = "DONE";

    private static volatile boolean stop;

    private SharedMemoryHammer() {
    }

    public static void main(String[] args) throws InterruptedException {
        Path file = Path.of(args[0]);
        Thread watcher = Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = in.readLine()) != null && !line.trim().equals(STOP)) {
                    // ignore anything else
                }
            } catch (IOException e) {
                // the parent is gone: stop as well
            }
            stop = true;
        });
        long operations = 0;
        long start;
        try (LimitSet set = SharedMemoryBench.open(file)) {
            Request request = Request.of("requests", 1);
            System.out.println(READY);
            System.out.flush();
            start = System.nanoTime();
            while (!stop) {
                set.tryAcquire(request).orElseThrow().close();
                operations++;
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.println(String.format(Locale.ROOT, "%s %d %.3f", DONE, operations, seconds));
        System.out.flush();
        watcher.join(1000);
    }
}
