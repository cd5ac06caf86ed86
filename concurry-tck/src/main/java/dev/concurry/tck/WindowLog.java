package dev.concurry.tck;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * An independent checker of rate limits across processes: each grant is logged, by whoever got it, as one
 * line {@code <group> <asked at> <granted at>} (nanoseconds of {@link System#nanoTime()}, which all JVMs
 * of one Linux host share), and the checker counts the grants certainly made inside one window — asked
 * and granted within it — which may never exceed the quota, whatever the limiter says about itself.
 *
 * <pre>{@code
 * WindowLog.append(log, acq.config().get("region"), askedAt);       // in each worker, after a grant
 * Map<String, Integer> perRegion = WindowLog.assertNoWindowOverQuota(log, windowNanos, 10);
 * }</pre>
 */
public final class WindowLog {
    private WindowLog() {
    }

    /** Appends one grant of {@code group}, asked at {@code askedAt}, granted now (atomic across processes). */
    public static void append(Path log, String group, long askedAt) throws IOException {
        // O_APPEND writes of one short line are atomic across processes
        Files.writeString(log, group + " " + askedAt + " " + System.nanoTime() + "\n", StandardOpenOption.CREATE,
                StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    }

    /**
     * Asserts that no window of {@code windowNanos} holds more than {@code quota} grants of one group
     * certainly made inside it, and returns the number of grants per group.
     */
    public static Map<String, Integer> assertNoWindowOverQuota(Path log, long windowNanos, int quota)
            throws IOException {
        Map<String, List<long[]>> byGroup = new TreeMap<>();
        for (String line : Files.readAllLines(log)) {
            String[] parts = line.split(" ");
            byGroup.computeIfAbsent(parts[0], g -> new ArrayList<>())
                    .add(new long[] {Long.parseLong(parts[1]), Long.parseLong(parts[2])});
        }
        Map<String, Integer> counts = new TreeMap<>();
        for (var entry : byGroup.entrySet()) {
            List<long[]> grants = entry.getValue();
            grants.sort(Comparator.comparingLong(g -> g[0]));
            for (int i = 0; i < grants.size(); i++) {
                long start = grants.get(i)[0];
                int inside = 0;
                for (int j = i; j < grants.size() && grants.get(j)[0] < start + windowNanos; j++) {
                    if (grants.get(j)[1] < start + windowNanos) {
                        inside++;
                    }
                }
                assertThat(inside).as("%s: grants certainly in one window of %d ns", entry.getKey(), windowNanos)
                        .isLessThanOrEqualTo(quota);
            }
            counts.put(entry.getKey(), grants.size());
        }
        return counts;
    }
}
