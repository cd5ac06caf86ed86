package dev.concurry.limit;

import dev.concurry.limit.shm.SharedMemoryBackend;
import dev.concurry.limit.spi.FamilyDefinition;
import dev.concurry.limit.spi.FamilyStore;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;
import dev.concurry.time.MonotonicClock;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The backends built into the core: {@linkplain #inMemory() in memory} (one JVM) and
 * {@linkplain #sharedMemory(Path) shared memory} (several JVMs on one host).
 *
 * <pre>{@code
 * LimitSet limits = LimitSet.builder()
 *         .add(RateLimit.of("requests", 500, Duration.ofMinutes(1)))
 *         .backend(Backends.inMemory())                 // the default
 *         .build();
 * }</pre>
 */
public final class Backends {
    private Backends() {
    }

    /** State in this JVM, shared by any number of platform or virtual threads (SPEC L16). */
    public static LimitBackend inMemory() {
        return inMemory(MonotonicClock.system());
    }

    /** The in-memory backend on the given clock (a {@link dev.concurry.time.ManualClock} in tests). */
    public static LimitBackend inMemory(MonotonicClock clock) {
        Objects.requireNonNull(clock, "clock");
        return new LimitBackend() {
            @Override
            public String name() {
                return "in-memory";
            }

            @Override
            public boolean crossProcess() {
                return false;
            }

            @Override
            public LimitStore open(LimitSetDefinition definition) {
                return new InMemoryStore(definition, clock);
            }

            @Override
            public FamilyStore openFamily(FamilyDefinition family) {
                return new InMemoryFamily(family, clock);
            }

            @Override
            public String toString() {
                return "Backends.inMemory(" + clock + ")";
            }
        };
    }

    /**
     * State in a memory-mapped file shared by every JVM on this host that opens a set with the same
     * name (SPEC L17): no server process. The file is {@code concurry-<set name>.limits} in
     * {@code java.io.tmpdir}, so <b>name the set</b> ({@link LimitSet.Builder#name(String)}): every
     * process that builds a set with that name and the same limits shares one quota. The algorithms and
     * results are those of the in-memory backend. A process that dies, even by {@code kill -9}, never
     * leaves the state torn, and the resource permits it held come back within about 150 ms.
     *
     * <pre>{@code
     * // In every process (parent and child JVMs alike):
     * LimitSet db = LimitSet.builder()
     *         .name("orders-db")
     *         .add(ResourceLimit.of("db_conn", 5))
     *         .add(RateLimit.of("queries", 100, Duration.ofSeconds(1)))
     *         .backend(Backends.sharedMemory())          // several JVMs, one host, no server
     *         .build();
     * try (Acquisition acq = db.acquire(Request.of("db_conn", 1).and("queries", 1))) {
     *     runQuery();                                    // at most 5 at once across every process
     * }
     * }</pre>
     *
     * <p>A waiter is woken at once by a release in its own JVM, and within about 1 ms by a release in
     * another JVM; waiters are served first come, first served per key across every JVM on the file.
     * A process paused inside the file's lock blocks nobody for long: a {@code tryAcquire} is refused
     * within milliseconds if the holder is stopped (SIGSTOP), within 1 s if it runs but keeps the lock
     * (a long GC), and waiters keep retrying until their timeouts. Opening a
     * file made for other limits, or a file that is not a valid set, fails with an
     * {@link IllegalStateException} that says why; the file is never overwritten. A file truncated
     * while in use fails every later call with an {@link IllegalStateException}; impossible state words
     * (a negative count of permits, NaN) are repaired, never more generously than the limits allow.
     */
    public static LimitBackend sharedMemory() {
        return sharedMemory(null, MonotonicClock.system());
    }

    /**
     * State in the memory-mapped file {@code file}, created if it does not exist, shared by every JVM on
     * this host that opens it; see {@link #sharedMemory()}. All sets built with this backend use the
     * same file, so build one set per file (or several with the same limits, which share the quota).
     */
    public static LimitBackend sharedMemory(Path file) {
        return sharedMemory(Objects.requireNonNull(file, "file"), MonotonicClock.system());
    }

    /**
     * The shared-memory backend on the given clock (a {@link dev.concurry.time.ManualClock} in tests).
     * Every process sharing a file must use clocks with one origin: {@link MonotonicClock#system()}
     * ({@code System.nanoTime()}) is host-wide. A null {@code file} means the default file of
     * {@link #sharedMemory()}, derived from the set's name.
     */
    public static LimitBackend sharedMemory(Path file, MonotonicClock clock) {
        return new SharedMemoryBackend(file, clock);
    }
}
