package dev.concurry.limit.shm;

import dev.concurry.time.MonotonicClock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One mapped limit file in this JVM, shared by every set opened on it: the file format, its creation
 * and validation, the lock word and the redo log.
 *
 * <h2>File format (version 4, native byte order, every long 8-byte aligned)</h2>
 * <pre>
 *   0  magic "CONCURRY"            48  lock word: owner pid | (owner start stamp &lt;&lt; 32); 0 = free
 *   8  format version (int)        56  generation: bumped when units come back or the queue moves
 *  16  signature of the specs      64  epoch: clock reading at which state time is 0
 *  24  words of state              72  boot id hash of the host when the epoch was taken
 *  32  regions                     80  redo log: number of committed entries, 0 = none
 *  40  description length          88  holder slots
 *                                  96  lock acquisitions so far (tells a stalled holder from a busy one)
 * 128  description of the specs (UTF-8, padded to 8)
 *      region versions (one long per region)
 *      state words (doubles, see {@link Layout}): sequence | holder table | queue | each limit's state
 *      redo log: entries of (file offset, 8 bytes)
 * </pre>
 *
 * <h2>The lock word</h2>
 * Every change happens under the lock word, taken by a CAS from 0 to this process's {@link
 * Incarnation} (pid and start stamp). A lock whose owner is not alive — no such pid, or a pid that
 * now belongs to another incarnation, as after a container restart — is stolen by CAS; a live owner
 * is never robbed (it may resume and write). Taking it is bounded ({@link #lockWord(long)}): when a
 * live owner keeps it longer than the caller's patience (a process paused by SIGSTOP, a debugger, a
 * long GC), the caller gives up, and until that owner lets go (or the acquisition count moves) later
 * attempts give up at once instead of waiting again.
 *
 * <h2>Crash safety: a redo log</h2>
 * A JVM computes on its local copy, then publishes: it writes each changed double and
 * each bumped region version to the log, commits by a volatile write of the entry count, applies the
 * entries to the state area and clears the count. A JVM killed before the commit leaves the state as it
 * was (the transaction never happened); killed after it, whoever takes the lock next replays the
 * committed log (the writes are absolute, so replaying twice is harmless). The state is therefore never
 * torn by a dead JVM. (A crash of the whole host is another matter: the file lives in the page cache and
 * is not synced; after a reboot the epoch is reset.)
 *
 * <p>Creation is race-free: the file is written complete under a temporary name and hard-linked to its
 * path, which fails if another process created it first (that file is then opened). An existing file
 * is never reinitialised: a wrong magic number, format version, size or log count is refused with an
 * {@link IllegalStateException}, and so is a file made for other specs (the message shows both).
 */
final class SharedFile {
    static final long MAGIC = 0x5952525543_4E4F43L;     // "CONCURRY" read as a little-endian long
    /**
     * 4: owners named by pid and start time, a queue of tickets for first-come first-served waiting across
     * JVMs, and every rate limit's state ending with the words of provider feedback (SPEC F2–F4).
     */
    static final int FORMAT = 4;
    static final int H_MAGIC = 0;
    static final int H_FORMAT = 8;
    static final int H_SIGNATURE = 16;
    static final int H_WORDS = 24;
    static final int H_REGIONS = 32;
    static final int H_DESC_LENGTH = 40;
    static final int H_LOCK = 48;
    static final int H_GENERATION = 56;
    static final int H_EPOCH = 64;
    static final int H_BOOT = 72;
    static final int H_LOG_COUNT = 80;
    static final int H_SLOTS = 88;
    static final int H_ACQUISITIONS = 96;
    static final int HEADER = 128;
    /** How long a process waits for the lock before it looks up the owner, and how often it does then. */
    private static final long CHECK_AFTER_NANOS = 1_000_000L;
    private static final long CHECK_EVERY_NANOS = 5_000_000L;
    /** A holder that keeps the lock too long is logged at most this often. */
    private static final long STALL_LOG_NANOS = 10_000_000_000L;
    private static final Logger log = LoggerFactory.getLogger(SharedFile.class);

    static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());
    private static final ReentrantLock OPENING = new ReentrantLock();
    private static final Map<Path, SharedFile> OPEN = new HashMap<>();

    final Path path;
    final Path key;
    final Layout layout;
    final MappedByteBuffer buf;
    final DoubleBuffer words;
    /** Kept open to read the file's size when the mapping faults. */
    private final FileChannel channel;
    /** Taken before the lock word, so that the word is only contended between processes. */
    final ReentrantLock lock = new ReentrantLock();
    final List<SharedMemoryStore> stores = new CopyOnWriteArrayList<>();
    /** Why the mapping can no longer be touched (the file was truncated), or null. */
    private volatile String broken;
    // Guarded by lock:
    int slot = -1;
    long lastReclaim = System.nanoTime() - Holders.RECLAIM_MILLIS * 1_000_000L;
    /** The owner word and acquisition count we last gave up on (0: none), and when we last asked if it lives. */
    private long stalledWord;
    private long stalledCount;
    private long checkedAt;
    private long stallLoggedAt = System.nanoTime() - STALL_LOG_NANOS;
    // Guarded by OPENING:
    int users;

    private SharedFile(Path path, Path key, Layout layout, MappedByteBuffer buf, FileChannel channel) {
        this.path = path;
        this.key = key;
        this.layout = layout;
        this.buf = buf;
        this.channel = channel;
        this.words = buf.slice(layout.wordsOffset, 8 * layout.words).order(ByteOrder.nativeOrder())
                .asDoubleBuffer();
    }

    static SharedFile open(Path path, Layout layout, MonotonicClock clock, String setName) {
        Path absolute = path.toAbsolutePath().normalize();
        OPENING.lock();
        try {
            if (!Files.exists(absolute)) {
                create(absolute, layout, clock);
            }
            Path key = absolute.toRealPath();
            SharedFile file = OPEN.get(key);
            if (file == null || file.broken != null) {
                file = map(absolute, key, layout, setName);
                OPEN.put(key, file);
            } else if (!file.layout.description.equals(layout.description)) {
                throw specsDiffer(absolute, setName, file.layout.description, layout.description);
            }
            file.users++;
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open shared-memory limit file " + absolute + ": " + e, e);
        } finally {
            OPENING.unlock();
        }
    }

    void release() {
        OPENING.lock();
        try {
            if (--users == 0) {
                OPEN.remove(key, this);
                try {
                    channel.close();
                } catch (IOException e) {
                    // nothing was written through it
                }
            }
        } finally {
            OPENING.unlock();
        }
    }

    /** Writes a complete new file under a temporary name, then links it to {@code path} unless one exists. */
    private static void create(Path path, Layout layout, MonotonicClock clock) throws IOException {
        Path dir = path.getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + path.getFileName() + ".", ".tmp");
        try {
            ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(layout.size)).order(ByteOrder.nativeOrder());
            b.putLong(H_MAGIC, MAGIC);
            b.putInt(H_FORMAT, FORMAT);
            b.putLong(H_SIGNATURE, layout.signature);
            b.putLong(H_WORDS, layout.words);
            b.putLong(H_REGIONS, layout.regions);
            b.putLong(H_DESC_LENGTH, layout.descriptionBytes);
            b.putLong(H_EPOCH, clock.nanoTime());
            b.putLong(H_BOOT, Incarnation.BOOT);
            b.putLong(H_SLOTS, layout.resources > 0 ? Layout.SLOTS : 0);
            b.put(HEADER, layout.description.getBytes(StandardCharsets.UTF_8));
            double[] w = new double[layout.words];
            layout.tickets.init(w);
            layout.algorithms.init(w, 0);
            for (int i = 0; i < w.length; i++) {
                b.putDouble(layout.wordsOffset + 8 * i, w[i]);
            }
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                while (b.hasRemaining()) {
                    ch.write(b);
                }
            }
            try {
                Files.createLink(path, tmp);              // atomic, and fails if the file exists
            } catch (FileAlreadyExistsException lost) {
                // Another process created it first: open theirs.
            } catch (UnsupportedOperationException noLinks) {
                try {
                    Files.move(tmp, path);                 // no hard links here: a small race remains
                } catch (FileAlreadyExistsException lost) {
                    // created meanwhile
                }
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static SharedFile map(Path path, Path key, Layout layout, String setName) throws IOException {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException("shared-memory limit file " + path + " vanished while opening it", e);
        }
        try {
            long size = ch.size();
            if (size < HEADER) {
                throw invalid(path, "it has " + size + " bytes, fewer than the " + HEADER + "-byte header");
            }
            ByteBuffer h = ByteBuffer.allocate(HEADER).order(ByteOrder.nativeOrder());
            readFully(ch, h, 0);
            if (h.getLong(H_MAGIC) != MAGIC) {
                throw invalid(path, "wrong magic number 0x" + Long.toHexString(h.getLong(H_MAGIC))
                        + ": it is not a Concurry limit set file");
            }
            if (h.getInt(H_FORMAT) != FORMAT) {
                throw invalid(path, "format version " + h.getInt(H_FORMAT) + ", this library reads version "
                        + FORMAT);
            }
            long descLength = h.getLong(H_DESC_LENGTH);
            if (descLength < 0 || descLength > size - HEADER || descLength > (1 << 20)) {
                throw invalid(path, "corrupted header: description length " + descLength);
            }
            ByteBuffer d = ByteBuffer.allocate((int) descLength);
            readFully(ch, d, HEADER);
            String description = new String(d.array(), StandardCharsets.UTF_8);
            if (!description.equals(layout.description)) {
                throw specsDiffer(path, setName, description, layout.description);
            }
            if (h.getLong(H_SIGNATURE) != layout.signature || h.getLong(H_WORDS) != layout.words
                    || h.getLong(H_REGIONS) != layout.regions
                    || h.getLong(H_SLOTS) != (layout.resources > 0 ? Layout.SLOTS : 0)) {
                throw invalid(path, "corrupted header: its signature or sizes do not match its own specs "
                        + description);
            }
            if (size != layout.size) {
                throw invalid(path, "it has " + size + " bytes, a set with these specs has " + layout.size
                        + " (truncated or corrupted)");
            }
            long logCount = h.getLong(H_LOG_COUNT);
            if (logCount < 0 || logCount > layout.logCapacity) {
                throw invalid(path, "corrupted redo log: " + logCount + " entries");
            }
            MappedByteBuffer buf = ch.map(FileChannel.MapMode.READ_WRITE, 0, size);
            buf.order(ByteOrder.nativeOrder());
            return new SharedFile(path, key, layout, buf, ch);
        } catch (IOException | RuntimeException | Error e) {
            ch.close();
            throw e;
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b, position + b.position()) < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    static IllegalStateException invalid(Path path, String why) {
        return new IllegalStateException("refusing shared-memory limit file " + path + ": " + why
                + ". It was left untouched; delete it only if no process uses it, or use another file");
    }

    static IllegalStateException specsDiffer(Path path, String setName, String inFile, String wanted) {
        return new IllegalStateException("set '" + setName + "' cannot use shared-memory limit file " + path
                + ": the file holds limits " + inFile + " but this set has " + wanted
                + "; give the set another file (or name) or the same limits");
    }

    // ---- the lock word ----

    /**
     * Takes the lock word within {@code patience} ns: CAS from free to this process. While another
     * process holds it, its owner is looked up (after {@link #CHECK_AFTER_NANOS} of waiting, then every
     * {@link #CHECK_EVERY_NANOS}): a dead owner's lock is stolen; a stopped one (SIGSTOP, ptrace) is
     * given up on at once; a running one is waited for until the patience runs out. False if the lock
     * was not taken; then, until its owner lets go or another process takes the lock in between, later
     * attempts give up at once. Call with {@link #lock}.
     */
    boolean lockWord(long patience) {
        // A plain read first: on a truncated file a read fails with an InternalError where a CAS
        // (interpreted) would crash the JVM with SIGBUS.
        long owner = (long) LONGS.getVolatile(buf, H_LOCK);
        if (owner == 0 && LONGS.compareAndSet(buf, H_LOCK, 0L, Incarnation.LOCK_WORD)) {
            acquired();
            return true;
        }
        long start = System.nanoTime();
        long deadline = start + patience;
        int spins = 0;
        long park = 1_000;
        while (true) {
            if (owner == 0) {
                if (LONGS.compareAndSet(buf, H_LOCK, 0L, Incarnation.LOCK_WORD)) {
                    acquired();
                    return true;
                }
            } else {
                long now = System.nanoTime();
                boolean stalled = owner == stalledWord && buf.getLong(H_ACQUISITIONS) == stalledCount;
                if (now - checkedAt >= CHECK_EVERY_NANOS && (stalled || now - start >= CHECK_AFTER_NANOS)) {
                    checkedAt = now;
                    long pid = Incarnation.pid(owner);
                    switch (Incarnation.liveness(pid, Incarnation.stamp(owner))) {
                        case DEAD -> {
                            if (LONGS.compareAndSet(buf, H_LOCK, owner, Incarnation.LOCK_WORD)) {
                                log.warn("shared-memory limit file {}: took over the lock of process {}, which"
                                        + " died holding it", path, pid);
                                acquired();
                                return true;
                            }
                        }
                        case STOPPED -> {
                            return giveUp(owner, now);
                        }
                        case RUNNING -> {
                            // busy, preempted or in a long GC: wait while the patience lasts
                        }
                    }
                }
                if (stalled || now - deadline >= 0) {
                    return giveUp(owner, now);
                }
            }
            if (++spins < 100) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(park);
                park = Math.min(park * 2, 100_000);
            }
            owner = (long) LONGS.getVolatile(buf, H_LOCK);
        }
    }

    /** Remembers that {@code owner} kept the lock (logged at most every 10 s); returns false. */
    private boolean giveUp(long owner, long now) {
        if (owner != stalledWord && now - stallLoggedAt >= STALL_LOG_NANOS) {
            stallLoggedAt = now;
            log.warn("shared-memory limit file {} is locked by {}, which does not let go: tries are refused and"
                    + " waiters retry until it does", path, Incarnation.describe(Incarnation.pid(owner)));
        }
        stalledWord = owner;
        stalledCount = buf.getLong(H_ACQUISITIONS);
        return false;
    }

    private void acquired() {
        buf.putLong(H_ACQUISITIONS, buf.getLong(H_ACQUISITIONS) + 1);
        stalledWord = 0;
    }

    void unlockWord() {
        LONGS.setVolatile(buf, H_LOCK, 0L);
    }

    // ---- a mapping that faults -------------------------------------------------------------------

    /**
     * After an access to the mapping failed (the JVM turns the SIGBUS of a page that is no longer
     * backed by the file into an InternalError): the file is unusable from now on, in this JVM.
     * Returns the exception to throw.
     */
    IllegalStateException faulted(InternalError fault) {
        long size = -1;
        try {
            size = channel.size();
        } catch (IOException e) {
            // reported as unknown
        }
        return breakWith(size >= 0 && size < layout.size
                ? "it was truncated to " + size + " bytes while in use (a set with these limits needs "
                        + layout.size + ")"
                : "reading its mapping failed (" + fault.getMessage() + "); it may have been truncated, or the"
                        + " disk is full",
                fault);
    }

    /** Marks the file unusable in this JVM for {@code why}; returns the exception to throw. */
    IllegalStateException breakWith(String why, Throwable cause) {
        if (broken == null) {
            broken = why;
            log.error("shared-memory limit file {} cannot be used any more: {}", path, why);
        }
        return unusable(cause);
    }

    /** Whether the mapping must no longer be touched. */
    boolean broken() {
        return broken != null;
    }

    IllegalStateException unusable(Throwable cause) {
        return new IllegalStateException("shared-memory limit file " + path + " cannot be used: " + broken
                + ". Its state is lost: close every set on it and delete the file once no process uses it",
                cause);
    }

    /** Replays a log a dead process committed but did not finish applying. */
    void recoverLocked() {
        long n = (long) LONGS.getVolatile(buf, H_LOG_COUNT);
        if (n == 0) {
            return;
        }
        if (n < 0 || n > layout.logCapacity) {
            throw breakWith("its redo log is corrupted (" + n + " entries)", null);
        }
        for (int i = 0; i < n; i++) {
            long offset = buf.getLong(layout.logOffset + 16 * i);
            if (offset < H_GENERATION || offset >= layout.logOffset || (offset & 7) != 0 || offset == H_LOG_COUNT) {
                throw breakWith("its redo log is corrupted (entry " + i + " writes at offset " + offset + ")", null);
            }
        }
        apply(buf, layout.logOffset, (int) n);
        LONGS.setVolatile(buf, H_LOG_COUNT, 0L);
    }

    static void apply(MappedByteBuffer buf, int log, int n) {
        for (int i = 0; i < n; i++) {
            int at = log + 16 * i;
            buf.putLong((int) buf.getLong(at), buf.getLong(at + 8));
        }
    }

    long generation() {
        return (long) LONGS.getVolatile(buf, H_GENERATION);
    }

    /** After a release: other sets of this JVM on this file re-dispatch at once. */
    void wakeOthers(SharedMemoryStore from) {
        for (SharedMemoryStore store : stores) {
            if (store != from) {
                store.wake();
            }
        }
    }

    static long fnv64(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b & 0xff;
            h *= 0x100000001b3L;
        }
        return h == 0 ? 1 : h;
    }
}
