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
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One mapped limit file in this JVM, shared by every set opened on it: the file format, its creation
 * and validation, the lock word and the redo log.
 *
 * <h2>File format (version 3, native byte order, every long 8-byte aligned)</h2>
 * <pre>
 *   0  magic "CONCURRY"            48  lock word: owner pid | (token &lt;&lt; 32); 0 = free
 *   8  format version (int)        56  generation: bumped by every release, refund or reclaim
 *  16  signature of the specs      64  epoch: clock reading at which state time is 0
 *  24  words of state              72  boot id hash of the host when the epoch was taken
 *  32  regions                     80  redo log: number of committed entries, 0 = none
 *  40  description length          88  holder slots
 * 128  description of the specs (UTF-8, padded to 8)
 *      region versions (one long per region)
 *      state words (doubles, see {@link Layout}): sequence | holder table | each limit's state
 *      redo log: entries of (file offset, 8 bytes)
 * </pre>
 *
 * <h2>Crash safety: a redo log</h2>
 * Every change happens under the lock word (CAS of this process's pid; a lock whose pid is dead is
 * stolen by CAS). A JVM computes on its local copy, then publishes: it writes each changed double and
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
    /** 3: every rate limit's state ends with the words of provider feedback (SPEC F2–F4). */
    static final int FORMAT = 3;
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
    static final int HEADER = 128;

    static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());
    private static final ReentrantLock OPENING = new ReentrantLock();
    private static final Map<Path, SharedFile> OPEN = new HashMap<>();

    final Path path;
    final Path key;
    final Layout layout;
    final MappedByteBuffer buf;
    final DoubleBuffer words;
    final ReentrantLock lock = new ReentrantLock();
    final long lockWord;
    final List<SharedMemoryStore> stores = new CopyOnWriteArrayList<>();
    // Guarded by lock:
    int slot = -1;
    long lastReclaim = System.nanoTime() - Holders.RECLAIM_MILLIS * 1_000_000L;
    // Guarded by OPENING:
    int users;

    private SharedFile(Path path, Path key, Layout layout, MappedByteBuffer buf) {
        this.path = path;
        this.key = key;
        this.layout = layout;
        this.buf = buf;
        this.words = buf.slice(layout.wordsOffset, 8 * layout.words).order(ByteOrder.nativeOrder())
                .asDoubleBuffer();
        // The pid in the low 32 bits; a token in the high bits tells apart two copies of this class
        // in one JVM (class loaders), which must not take each other's lock for a dead one's.
        this.lockWord = (((long) ThreadLocalRandom.current().nextInt(1, Integer.MAX_VALUE)) << 32) | Holders.PID;
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
            if (file == null) {
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
            b.putLong(H_BOOT, Holders.BOOT);
            b.putLong(H_SLOTS, layout.resources > 0 ? Layout.SLOTS : 0);
            b.put(HEADER, layout.description.getBytes(StandardCharsets.UTF_8));
            double[] w = new double[layout.words];
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
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
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
            return new SharedFile(path, key, layout, buf);
        } catch (NoSuchFileException e) {
            throw new UncheckedIOException("shared-memory limit file " + path + " vanished while opening it", e);
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

    /** Takes the lock word: CAS from free to this process; steals it from a dead process. */
    void lockWord() {
        if (LONGS.compareAndSet(buf, H_LOCK, 0L, lockWord)) {
            return;
        }
        int spins = 0;
        long park = 1_000;
        long waitingSince = System.nanoTime();
        while (true) {
            long owner = (long) LONGS.getVolatile(buf, H_LOCK);
            if (owner == 0) {
                if (LONGS.compareAndSet(buf, H_LOCK, 0L, lockWord)) {
                    return;
                }
            } else if (System.nanoTime() - waitingSince > 10_000_000L) {
                // Held for over 10 ms (a pause or a death): steal it if its process is gone.
                waitingSince = System.nanoTime();
                long pid = owner & 0xFFFF_FFFFL;
                if (pid != Holders.PID && !Holders.alive(pid, 0) && LONGS.compareAndSet(buf, H_LOCK, owner, lockWord)) {
                    return;
                }
            }
            if (++spins < 100) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(park);
                park = Math.min(park * 2, 100_000);
            }
        }
    }

    void unlockWord() {
        LONGS.setVolatile(buf, H_LOCK, 0L);
    }

    /** Replays a log a dead process committed but did not finish applying. */
    void recoverLocked() {
        long n = (long) LONGS.getVolatile(buf, H_LOG_COUNT);
        if (n == 0) {
            return;
        }
        if (n < 0 || n > layout.logCapacity) {
            throw invalid(path, "corrupted redo log: " + n + " entries");
        }
        for (int i = 0; i < n; i++) {
            long offset = buf.getLong(layout.logOffset + 16 * i);
            if (offset < H_GENERATION || offset >= layout.logOffset || (offset & 7) != 0 || offset == H_LOG_COUNT) {
                throw invalid(path, "corrupted redo log entry " + i + " (offset " + offset + ")");
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
