package dev.concurry.limit.shm;

import dev.concurry.limit.LimitBackend;
import dev.concurry.limit.spi.FamilyDefinition;
import dev.concurry.limit.spi.FamilyStore;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.LimitStore;
import dev.concurry.time.MonotonicClock;
import java.io.IOException;
import java.io.NotSerializableException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * The shared-memory backend (SPEC L17): a set's state in a memory-mapped file shared by every JVM on
 * this host that opens it; no server. Obtain it from {@code Backends.sharedMemory(...)}.
 *
 * <pre>{@code
 * LimitSet db = LimitSet.builder()
 *         .name("orders-db")                             // the file: <tmpdir>/concurry-orders-db.limits
 *         .add(ResourceLimit.of("db_conn", 5))
 *         .backend(Backends.sharedMemory())
 *         .build();
 * }</pre>
 *
 * <p>{@link Serializable} (with the system clock only), so that a process worker's child JVM re-opens
 * the same file: process pools send each child the set's definition and this backend (SPEC L17, L20).
 */
public final class SharedMemoryBackend implements LimitBackend, Serializable {
    private static final long serialVersionUID = 2L;
    /** The file as a string (Path is not serializable); null = the default file of the set's name. */
    private final String file;
    private transient MonotonicClock clock;

    /**
     * A backend on {@code file} (null: {@code <java.io.tmpdir>/concurry-<set name>.limits}) reading
     * time from {@code clock}. Every process sharing a file must use clocks with one origin:
     * {@link MonotonicClock#system()} is host-wide.
     */
    public SharedMemoryBackend(Path file, MonotonicClock clock) {
        this.file = file != null ? file.toAbsolutePath().toString() : null;
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    @Override
    public String name() {
        return "shared-memory";
    }

    @Override
    public boolean crossProcess() {
        return true;
    }

    /** This backend itself, when it reads the system clock (the only clock every process shares). */
    @Override
    public Optional<LimitBackend> portable() {
        return clock == MonotonicClock.system() ? Optional.of(this) : Optional.empty();
    }

    @Override
    public LimitStore open(LimitSetDefinition definition) {
        Path path = file != null ? Path.of(file) : defaultFile(definition.name());
        return SharedMemoryStore.open(definition, path, clock);
    }

    /**
     * A keyed family on shared memory (SPEC L24): one small file per key, in the directory
     * {@code <file>.keys} (or {@code <tmpdir>/concurry-<family>.keys}), shared by every JVM on this host
     * that opens the family under the same name. A key's file is mapped only while the key is live in
     * this JVM (a dropped key unmaps it), so memory is bounded; the files stay on disk, where the next
     * JVM or the key's next use finds its state. Suited to families of up to some thousands of keys
     * (each file takes a few kilobytes of disk); for millions of keys use Redis or Hazelcast.
     */
    @Override
    public FamilyStore openFamily(FamilyDefinition family) {
        Path dir = file != null
                ? Path.of(file + ".keys")
                : Path.of(System.getProperty("java.io.tmpdir"), "concurry-" + safeName(family.name()) + ".keys");
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create the directory " + dir + " of keyed limits '" + family.name()
                    + "': " + e, e);
        }
        MonotonicClock familyClock = clock;
        String prefix = family.name() + "/";
        LimitBackend fileOfKey = new LimitBackend() {            // the sets FamilyStore.perKey opens: <family>/<key>
            @Override
            public String name() {
                return SharedMemoryBackend.this.name();
            }

            @Override
            public boolean crossProcess() {
                return true;
            }

            @Override
            public LimitStore open(LimitSetDefinition definition) {
                String key = definition.name().substring(prefix.length());
                return SharedMemoryStore.open(definition, dir.resolve(safeName(key) + ".limits"), familyClock);
            }

            @Override
            public String toString() {
                return "shared memory in " + dir;
            }
        };
        return FamilyStore.perKey(fileOfKey, family);
    }

    /** {@code java.io.tmpdir/concurry-<name>.limits}, with characters unsafe in a file name replaced. */
    public static Path defaultFile(String setName) {
        return Path.of(System.getProperty("java.io.tmpdir"), "concurry-" + safeName(setName) + ".limits");
    }

    /** {@code name} with characters unsafe in a file name replaced, plus a hash of it when any was. */
    private static String safeName(String name) {
        StringBuilder safe = new StringBuilder();
        for (char c : name.toCharArray()) {
            safe.append(Character.isLetterOrDigit(c) && c < 128 || c == '-' || c == '_' || c == '.' ? c : '_');
        }
        String result = safe.toString();
        if (result.length() > 180) {                      // a file name has at most 255 bytes
            result = result.substring(0, 180);
        }
        if (!result.equals(name) || result.startsWith(".")) {
            result += "-" + Long.toHexString(SharedFile.fnv64(name));
        }
        return result;
    }

    private void writeObject(ObjectOutputStream out) throws IOException {
        if (clock != MonotonicClock.system()) {
            throw new NotSerializableException("a shared-memory backend on " + clock
                    + " cannot be sent to another process: only MonotonicClock.system() is host-wide");
        }
        out.defaultWriteObject();
    }

    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
        in.defaultReadObject();
        clock = MonotonicClock.system();
    }

    @Override
    public String toString() {
        return "Backends.sharedMemory(" + (file != null ? file : "<tmpdir>/concurry-<name>.limits") + ", " + clock
                + ")";
    }
}
