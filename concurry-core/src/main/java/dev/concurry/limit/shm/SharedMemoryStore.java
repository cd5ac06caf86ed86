package dev.concurry.limit.shm;

import dev.concurry.limit.spi.ArrayStore;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.ResolvedRequest;
import dev.concurry.time.MonotonicClock;
import java.nio.MappedByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.BooleanSupplier;
import java.util.concurrent.locks.LockSupport;

/**
 * The shared-memory store (SPEC L17): a set's state lives in a memory-mapped file ({@link SharedFile})
 * that every JVM on the host opens by path; there is no server. Each JVM runs {@link
 * dev.concurry.limit.spi.SetAlgorithms} on a local copy of the state, between taking the file's lock
 * word ({@link #lock()}: reload what other JVMs changed) and releasing it ({@link #unlock}: publish what
 * this one changed through the redo log).
 *
 * <p>Only what changed is copied. On lock, a JVM compares each region's version with the one it last
 * saw and reloads only the regions another JVM changed; on unlock it finds the changed doubles of the
 * regions the transaction touched with {@link Arrays#mismatch} against a shadow copy of what the file
 * holds, and logs only those: a grant logs a few doubles.
 *
 * <p>Time is {@link MonotonicClock} time ({@code System.nanoTime()}, one host-wide monotonic clock on
 * Linux, macOS and Windows) since the epoch stored in the file; if the host was rebooted since (its
 * boot id changed) no process can still hold anything, and the state restarts from a fresh epoch.
 *
 * <h2>Waiting</h2>
 * Within a JVM the engine's FIFO queue and exact clock wake-ups apply unchanged, and a release in this
 * JVM dispatches at once. Releases in another JVM bump the generation word: while the set has waiters
 * here, a watcher thread watches it, parking 50 µs after a change and backing off to 1 ms, and has the
 * engine decide again when it moves (and every {@value #PERIODIC_MILLIS} ms regardless, which also
 * reclaims a dead process's permits within about 150 ms). Fairness across JVMs is best-effort: each JVM
 * is fair to its own waiters, but a JVM that keeps acquiring can overtake a waiter of another JVM.
 *
 * <p>Within one JVM, all sets on one file share one mapping and one {@link java.util.concurrent.locks.ReentrantLock}
 * (taken before the lock word, so the word is only contended between processes). Deleting or replacing
 * a file that is in use splits its users; don't.
 */
final class SharedMemoryStore extends ArrayStore {
    static final int PERIODIC_MILLIS = 100;
    private static final long POLL_MIN_NANOS = 50_000;
    private static final long POLL_MAX_NANOS = 1_000_000;

    private final SharedFile file;
    private final Layout layout;
    private final Holders holders;
    /** What the file held for each region when this JVM last read or wrote it. */
    private final double[] shadow;
    private final long[] versions;
    // Guarded by the lock:
    private boolean reclaimed;
    private boolean holdersChanged;
    /** Header words to publish with the next transaction (after a reboot: epoch and boot id). */
    private final long[] extras = new long[4];
    private int extraCount;
    // Written under the engine's lock (waiters()), read by the watcher.
    private volatile int watchGeneration;
    private volatile boolean watching;
    private volatile Thread watcher;
    private volatile BooleanSupplier redispatch = () -> false;

    private SharedMemoryStore(SharedFile file, MonotonicClock clock) {
        super(file.layout.algorithms, clock);
        this.file = file;
        this.layout = file.layout;
        this.holders = new Holders(layout, file.path);
        this.shadow = new double[state.length];
        this.versions = new long[layout.regions];
        Arrays.fill(versions, -1);
        lock();
        try {
            long boot = file.buf.getLong(SharedFile.H_BOOT);
            if (Holders.BOOT != 0 && boot != 0 && boot != Holders.BOOT) {
                restartAfterReboot();
            }
            if (layout.resources > 0 && file.slot < 0) {
                file.slot = holders.claim(state);
                holdersChanged = true;
            }
        } finally {
            unlock(0, false);
        }
    }

    /** Opens (creating it if needed) the store of {@code definition} in {@code path}. */
    static SharedMemoryStore open(LimitSetDefinition definition, Path path, MonotonicClock clock) {
        Layout layout = new Layout(definition.limits());
        SharedFile file = SharedFile.open(path, layout, clock, definition.name());
        try {
            SharedMemoryStore store = new SharedMemoryStore(file, clock);
            file.stores.add(store);
            return store;
        } catch (RuntimeException | Error e) {
            file.release();
            throw e;
        }
    }

    // ---- the lock and the transaction ------------------------------------------------------------

    @Override
    protected void lock() {
        file.lock.lock();
        try {
            file.lockWord();
        } catch (RuntimeException | Error e) {
            file.lock.unlock();
            throw e;
        }
        try {
            file.recoverLocked();
            refresh();
            if (layout.resources > 0
                    && System.nanoTime() - file.lastReclaim >= Holders.RECLAIM_MILLIS * 1_000_000L) {
                file.lastReclaim = System.nanoTime();
                if (holders.reclaim(state)) {
                    holdersChanged = true;
                    reclaimed = true;
                }
            }
        } catch (RuntimeException | Error e) {
            file.unlockWord();
            file.lock.unlock();
            throw e;
        }
    }

    @Override
    protected void unlock(long touched, boolean freed) {
        boolean released = freed || reclaimed;
        try {
            publish(reclaimed ? -1L : touched, released);
        } finally {
            reclaimed = false;
            file.unlockWord();
            file.lock.unlock();
        }
        if (released) {
            file.wakeOthers(this);
        }
    }

    /** Reloads the regions another JVM (or another set on this file) changed since this one saw them. */
    private void refresh() {
        MappedByteBuffer buf = file.buf;
        epoch = buf.getLong(SharedFile.H_EPOCH);
        for (int r = 0; r < layout.regions; r++) {
            long v = buf.getLong(layout.versionsOffset + 8 * r);
            if (v != versions[r]) {
                int from = layout.regionStart[r];
                int length = layout.regionStart[r + 1] - from;
                file.words.get(from, state, from, length);
                System.arraycopy(state, from, shadow, from, length);
                versions[r] = v;
            }
        }
    }

    /** Writes what changed through the redo log; bumps the generation if units came back. */
    private void publish(long touchedLimits, boolean released) {
        MappedByteBuffer buf = file.buf;
        int log = layout.logOffset;
        int n = 0;
        boolean holdersDirty = holdersChanged;
        holdersChanged = false;
        for (int r = 0; r < layout.regions; r++) {
            if (r == 1 ? !holdersDirty : r >= 2 && (touchedLimits & (1L << (r - 2))) == 0) {
                continue;     // only the sequence word, and what this transaction touched, can differ
            }
            int from = layout.regionStart[r];
            int to = layout.regionStart[r + 1];
            boolean changed = false;
            while (from < to) {
                int m = Arrays.mismatch(state, from, to, shadow, from, to);
                if (m < 0) {
                    break;
                }
                int i = from + m;
                buf.putLong(log + 16 * n, layout.wordsOffset + 8L * i);
                buf.putLong(log + 16 * n + 8, Double.doubleToRawLongBits(state[i]));
                n++;
                shadow[i] = state[i];
                changed = true;
                from = i + 1;
            }
            if (changed) {
                versions[r]++;
                buf.putLong(log + 16 * n, layout.versionsOffset + 8L * r);
                buf.putLong(log + 16 * n + 8, versions[r]);
                n++;
            }
        }
        for (int e = 0; e < extraCount; e += 2) {
            buf.putLong(log + 16 * n, extras[e]);
            buf.putLong(log + 16 * n + 8, extras[e + 1]);
            n++;
        }
        extraCount = 0;
        if (released) {
            buf.putLong(log + 16 * n, SharedFile.H_GENERATION);
            buf.putLong(log + 16 * n + 8, buf.getLong(SharedFile.H_GENERATION) + 1);
            n++;
        }
        if (n > 0) {
            SharedFile.LONGS.setVolatile(buf, SharedFile.H_LOG_COUNT, (long) n);      // commit
            SharedFile.apply(buf, log, n);
            SharedFile.LONGS.setVolatile(buf, SharedFile.H_LOG_COUNT, 0L);
        }
    }

    // ---- holders ---------------------------------------------------------------------------------

    @Override
    protected void resourcesTaken(ResolvedRequest r) {
        holders.add(state, file.slot, r, 1);
        holdersChanged = true;
    }

    @Override
    protected void resourcesReleased(ResolvedRequest r) {
        holders.add(state, file.slot, r, -1);
        holdersChanged = true;
    }

    private void restartAfterReboot() {
        holders.clear(state);
        holdersChanged = true;
        long now = clock().nanoTime();
        layout.algorithms.init(state, 0);
        // Every limit region changed: publish them all, with the new epoch and boot id, in one transaction.
        reclaimed = true;
        extras[0] = SharedFile.H_EPOCH;
        extras[1] = now;
        extras[2] = SharedFile.H_BOOT;
        extras[3] = Holders.BOOT;
        extraCount = 4;
        epoch = now;
    }

    // ---- waiting for other processes -------------------------------------------------------------

    @Override
    public void listen(BooleanSupplier redispatch) {
        this.redispatch = redispatch;
    }

    @Override
    public void waiters(boolean present) {
        if (!present) {
            watching = false;
            return;
        }
        if (!watching) {
            watching = true;
            int generation = ++watchGeneration;
            Thread thread = new Thread(() -> watch(generation), "concurry-shm-watcher-" + file.path.getFileName());
            thread.setDaemon(true);
            watcher = thread;
            thread.start();
        }
    }

    /** Has the engine decide again when the generation moves (a release elsewhere), while waiters remain. */
    private void watch(int generation) {
        long seen = file.generation();
        long idle = POLL_MIN_NANOS;
        long lastPass = System.nanoTime();
        while (watching && watchGeneration == generation) {
            long g = file.generation();
            long t = System.nanoTime();
            if (g != seen || t - lastPass >= PERIODIC_MILLIS * 1_000_000L) {
                seen = g;
                lastPass = t;
                idle = POLL_MIN_NANOS;
                try {
                    if (!redispatch.getAsBoolean()) {
                        return;
                    }
                } catch (RuntimeException e) {
                    // A damaged file: keep the waiters' timeouts working, retry later.
                    LockSupport.parkNanos(this, PERIODIC_MILLIS * 1_000_000L);
                }
            } else {
                LockSupport.parkNanos(this, idle);
                idle = Math.min(idle * 2, POLL_MAX_NANOS);
            }
        }
    }

    /** A release by another set of this JVM on the same file: decide again now. */
    void wake() {
        Thread thread = watcher;
        if (thread != null && watching) {
            LockSupport.unpark(thread);
        }
    }

    @Override
    public String describe() {
        return "shared-memory " + file.path;
    }

    @Override
    public void close() {
        watching = false;
        file.stores.remove(this);
        file.release();
    }
}
