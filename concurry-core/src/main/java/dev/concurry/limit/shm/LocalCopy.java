package dev.concurry.limit.shm;

import dev.concurry.limit.spi.SetAlgorithms;
import dev.concurry.time.MonotonicClock;
import java.nio.MappedByteBuffer;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One set's copy of a limit file's state words in this JVM, and the transaction that changes them: a
 * JVM works on its copy between {@link #lock} (take the lock word, reload what other JVMs changed) and
 * {@link #unlock} (publish what this one changed through the redo log).
 *
 * <p>Only what changed is copied. On lock, each region's version is compared with the one this copy
 * last saw and only the regions another JVM changed are reloaded (and checked: impossible words are
 * repaired, see {@link #repair}); on unlock the changed doubles of the regions the transaction touched
 * are found with {@link Arrays#mismatch} against a shadow of what the file holds, and only those are
 * logged: a grant logs a few doubles.
 *
 * <p>Everything here is guarded by the file's lock in this JVM ({@link SharedFile#lock}).
 */
final class LocalCopy {
    private static final Logger log = LoggerFactory.getLogger(LocalCopy.class);

    private final SharedFile file;
    private final Layout layout;
    private final SetAlgorithms algorithms;
    private final Holders holders;
    private final Tickets tickets;
    private final MonotonicClock clock;
    /** The state this JVM works on: current between lock and unlock. */
    final double[] state;
    /** What the file held for each region when this JVM last read or wrote it. */
    private final double[] shadow;
    private final long[] versions;
    /** The clock reading at which state time is 0. */
    long epoch;
    /** The clock reading of the current transaction, and the same in state time. */
    long reading;
    double now;
    private long dirtyLimits;
    private boolean holdersDirty;
    private boolean queueDirty;
    private boolean allDirty;
    /** Units came back or the queue moved: bump the generation so that other processes look. */
    private boolean moved;
    /** Header words to publish with the next transaction (after a reboot: epoch and boot id). */
    private final long[] extras = new long[4];
    private int extraCount;

    LocalCopy(SharedFile file, Holders holders, MonotonicClock clock) {
        this.file = file;
        this.layout = file.layout;
        this.algorithms = layout.algorithms;
        this.holders = holders;
        this.tickets = layout.tickets;
        this.clock = clock;
        this.state = new double[algorithms.stateSize()];
        this.shadow = new double[state.length];
        this.versions = new long[layout.regions];
        Arrays.fill(versions, -1);
    }

    /** Limits whose words this transaction may have changed (bit i for limit i). */
    void touch(long limits) {
        dirtyLimits |= limits;
    }

    void touchHolders() {
        holdersDirty = true;
    }

    void touchQueue() {
        queueDirty = true;
    }

    /** Others should look: units came back, or the queue moved. */
    void move() {
        moved = true;
    }

    // ---- the transaction -------------------------------------------------------------------------

    /**
     * Takes this JVM's lock of the file and its lock word within {@code patience} ns, then makes the
     * copy current: replays a dead process's committed log, reloads (and checks) what others changed,
     * and reclaims what dead processes held (at most every {@value Holders#RECLAIM_MILLIS} ms). False
     * if a live process kept the lock (nothing is held then).
     *
     * @throws IllegalStateException if the file can no longer be used (truncated, corrupted log)
     */
    boolean lock(long patience) {
        if (file.broken()) {
            throw file.unusable(null);
        }
        if (!file.lock.tryLock() && !lockInThisJvm(System.nanoTime() + patience)) {
            return false;
        }
        boolean word = false;
        boolean ready = false;
        try {
            word = file.lockWord(patience);
            if (!word) {
                return false;
            }
            file.recoverLocked();
            reading = clock.nanoTime();
            refresh();
            reclaimIfDue();
            ready = true;
            return true;
        } catch (InternalError fault) {
            word = false;               // the mapping is gone: do not touch it again
            throw file.faulted(fault);
        } finally {
            if (!ready) {
                if (word) {
                    abandon();
                } else {
                    clearDirt();
                    file.lock.unlock();
                }
            }
        }
    }

    /** This JVM's lock of the file, by {@code deadline}; uninterruptible (the status is kept). */
    private boolean lockInThisJvm(long deadline) {
        boolean interrupted = false;
        try {
            while (true) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                try {
                    return file.lock.tryLock(left, TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Publishes what changed and releases the lock; whether other sets should look (units came back
     * or the queue moved).
     */
    boolean unlock() {
        boolean wake = moved;
        try {
            publish();
        } catch (InternalError fault) {
            throw file.faulted(fault);
        } finally {
            clearDirt();
            release();
        }
        return wake;
    }

    /**
     * Gives up the transaction after a failure: nothing is published, the copy goes back to what the
     * file holds, and every region is reloaded (and checked) at the next lock.
     */
    void abandon() {
        System.arraycopy(shadow, 0, state, 0, state.length);
        Arrays.fill(versions, -1);
        clearDirt();
        release();
    }

    private void release() {
        try {
            if (!file.broken()) {
                file.unlockWord();
            }
        } catch (InternalError fault) {
            file.faulted(fault);
        } finally {
            file.lock.unlock();
        }
    }

    private void clearDirt() {
        dirtyLimits = 0;
        holdersDirty = false;
        queueDirty = false;
        allDirty = false;
        moved = false;
        extraCount = 0;
    }

    /** Reloads the regions another JVM (or another set on this file) changed, checking what it reads. */
    private void refresh() {
        MappedByteBuffer buf = file.buf;
        epoch = buf.getLong(SharedFile.H_EPOCH);
        now = reading - epoch;
        for (int r = 0; r < layout.regions; r++) {
            long v = buf.getLong(layout.versionsOffset + 8 * r);
            if (v != versions[r]) {
                int from = layout.regionStart[r];
                int length = layout.regionStart[r + 1] - from;
                file.words.get(from, state, from, length);
                System.arraycopy(state, from, shadow, from, length);
                versions[r] = v;
                check(r);
            }
        }
    }

    /** Writes what changed through the redo log; bumps the generation if others should look. */
    private void publish() {
        MappedByteBuffer buf = file.buf;
        int log = layout.logOffset;
        int n = 0;
        for (int r = 0; r < layout.regions; r++) {
            if (!allDirty && !dirty(r)) {
                continue;
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
        if (moved) {
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

    /** Whether region {@code r} may differ from the file: the sequence word always, others if touched. */
    private boolean dirty(int r) {
        return switch (r) {
            case Layout.SEQUENCE_REGION -> true;
            case Layout.HOLDERS_REGION -> holdersDirty;
            case Layout.QUEUE_REGION -> queueDirty;
            default -> (dirtyLimits & (1L << (r - Layout.limitRegion(0)))) != 0;
        };
    }

    private void reclaimIfDue() {
        boolean resources = layout.resources > 0;
        if ((resources || tickets.size(state) > 0)
                && System.nanoTime() - file.lastReclaim >= Holders.RECLAIM_MILLIS * 1_000_000L) {
            file.lastReclaim = System.nanoTime();
            if (resources && holders.reclaim(state)) {
                holdersDirty = true;
                allDirty = true;
                moved = true;
            }
            if (tickets.size(state) > 0 && tickets.reclaim(state)) {
                queueDirty = true;
                moved = true;
            }
        }
    }

    // ---- opening ---------------------------------------------------------------------------------

    /**
     * Under the lock, on open: restarts the state if the host was rebooted since it was written (no
     * process can still hold anything), then checks every word of every region.
     */
    void checkOnOpen() {
        long boot = file.buf.getLong(SharedFile.H_BOOT);
        if (Incarnation.BOOT != 0 && boot != 0 && boot != Incarnation.BOOT) {
            restartAfterReboot();
        }
        check(Layout.SEQUENCE_REGION);
        if (layout.resources > 0) {
            String cleared = holders.repair(state);
            if (cleared != null) {
                holdersDirty = true;
                log.warn("shared-memory limit file {}: its holder table had impossible slots; {}", file.path, cleared);
            }
        }
        String queue = tickets.check(state);
        if (queue != null) {
            repairQueue(queue);
        }
        for (int i = 0; i < algorithms.limits().size(); i++) {
            int limit = i;
            algorithms.checkState(state, i, now, true).ifPresentOrElse(problem -> repair(limit, problem), () -> {
                if (algorithms.isResource(limit)) {
                    double held = holders.held(state, limit);
                    double word = state[algorithms.offset(limit)];
                    if (word != held) {
                        repair(limit, "permits held " + word + " while its holders hold " + held);
                    }
                }
            });
        }
    }

    private void restartAfterReboot() {
        holders.clear(state);
        tickets.init(state);
        long boot = clock.nanoTime();
        algorithms.init(state, 0);
        // Everything changed: publish it all, with the new epoch and boot id, in one transaction.
        allDirty = true;
        moved = true;
        extras[0] = SharedFile.H_EPOCH;
        extras[1] = boot;
        extras[2] = SharedFile.H_BOOT;
        extras[3] = Incarnation.BOOT;
        extraCount = 4;
        epoch = boot;
        reading = boot;
        now = 0;
    }

    // ---- checks and repairs ----------------------------------------------------------------------

    /** The cheap check of a region just reloaded. */
    private void check(int region) {
        if (region == Layout.SEQUENCE_REGION) {
            double seq = state[SetAlgorithms.SEQ];
            if (!(seq >= 0 && seq < 0x1p53 && seq == Math.rint(seq))) {
                repairSequence(seq);
            }
        } else if (region == Layout.QUEUE_REGION) {
            String problem = tickets.checkHeader(state);
            if (problem != null) {
                repairQueue(problem);
            }
        } else if (region >= Layout.limitRegion(0)) {
            int i = region - Layout.limitRegion(0);
            algorithms.checkState(state, i, now, false).ifPresent(problem -> repair(i, problem));
        }
    }

    /**
     * Repairs limit {@code i}, whose words were impossible: a resource limit's permits held are set
     * to what the holder table says its live holders hold; a rate limit is reset as if its whole
     * capacity had just been granted (never more generous than the limit; it heals within a window).
     */
    private void repair(int i, String problem) {
        String key = algorithms.limits().get(i).key();
        if (algorithms.isResource(i)) {
            double held = holders.held(state, i);
            state[algorithms.offset(i)] = held;
            log.warn("shared-memory limit file {}: limit '{}' had an impossible state ({}); repaired: {} permits"
                    + " held, as its holder table says", file.path, key, problem, held);
        } else {
            algorithms.exhaust(state, i, now);
            log.warn("shared-memory limit file {}: limit '{}' had an impossible state ({}); repaired: reset as if"
                    + " its whole capacity had just been granted", file.path, key, problem);
        }
        dirtyLimits |= 1L << i;
    }

    private void repairSequence(double seq) {
        log.warn("shared-memory limit file {}: its grant sequence number was {}; repaired: restarted at 0 and"
                + " every rate limit reset as if its whole capacity had just been granted", file.path, seq);
        state[SetAlgorithms.SEQ] = 0;
        for (int i = 0; i < algorithms.limits().size(); i++) {
            algorithms.exhaust(state, i, now);
        }
        allDirty = true;
    }

    private void repairQueue(String problem) {
        log.warn("shared-memory limit file {}: its queue of waiters was damaged ({}); repaired: emptied (waiters"
                + " take new places)", file.path, problem);
        tickets.init(state);
        queueDirty = true;
        moved = true;
    }
}
