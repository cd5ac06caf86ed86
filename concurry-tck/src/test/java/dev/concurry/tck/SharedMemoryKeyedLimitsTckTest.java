package dev.concurry.tck;

import dev.concurry.limit.Backends;
import dev.concurry.limit.LimitBackend;
import dev.concurry.time.ManualClock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;

/**
 * The keyed TCK (SPEC L24) on shared memory: one file per key in the family's directory, mapped while
 * the key is live; a dropped key's state is found again in its file.
 */
class SharedMemoryKeyedLimitsTckTest extends KeyedLimitsTck {
    private static final Path DIR;
    private static final AtomicLong FAMILIES = new AtomicLong();

    static {
        try {
            DIR = Files.createTempDirectory("concurry-shm-keyed-tck");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @AfterAll
    static void deleteFiles() throws IOException {
        try (var files = Files.walk(DIR)) {
            for (Path path : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(path);
            }
        }
    }

    @Override
    protected LimitBackend backend(ManualClock clock) {
        return Backends.sharedMemory(DIR.resolve("family-" + FAMILIES.incrementAndGet()), clock);
    }
}
