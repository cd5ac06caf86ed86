package dev.concurry.tck;

import dev.concurry.limit.Backends;
import dev.concurry.limit.LimitBackend;
import dev.concurry.time.ManualClock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The shared-memory backend passes the whole TCK (SPEC L17, L19): each set gets a fresh file, and all
 * its timing comes from the test's manual clock.
 */
class SharedMemoryLimitSetTckTest extends LimitSetTck {
    private static final Path DIR;
    private static final AtomicLong FILES = new AtomicLong();

    static {
        try {
            DIR = Files.createTempDirectory("concurry-shm-tck");
            DIR.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    protected LimitBackend backend(ManualClock clock) {
        Path file = DIR.resolve("set-" + FILES.incrementAndGet() + ".limits");
        file.toFile().deleteOnExit();
        return Backends.sharedMemory(file, clock);
    }
}
