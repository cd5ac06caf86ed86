package dev.concurry.limit.shm;

import dev.concurry.limit.spi.ResolvedRequest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.Optional;

/**
 * The holder table of a limit file: which live process holds how many permits of each resource
 * limit, so that the permits of a process that died (even by {@code kill -9}) are given back. It has
 * {@value Layout#SLOTS} slots of (pid, process start in epoch ms, permits held of each resource limit)
 * in the state words; a process takes a slot when it first opens a set with resource limits. At most
 * every {@value #RECLAIM_MILLIS} ms under the lock, the table is scanned: a slot whose process is not
 * alive (or whose pid now belongs to a process started at another time) is cleared and its permits
 * released, in the same transaction.
 */
final class Holders {
    static final int RECLAIM_MILLIS = 50;
    static final long PID = ProcessHandle.current().pid();
    static final long START = startMillis(ProcessHandle.current());
    static final long BOOT = bootId();

    private final Layout layout;
    private final Path path;

    Holders(Layout layout, Path path) {
        this.layout = layout;
        this.path = path;
    }

    private int slotBase(int slot) {
        return layout.holdersBase + slot * layout.slotWords;
    }

    /** This process's slot, claimed if it has none (under the lock). */
    int claim(double[] state) {
        for (int s = 0; s < Layout.SLOTS; s++) {
            int b = slotBase(s);
            if (state[b] == PID && state[b + 1] == START) {
                return s;
            }
        }
        reclaim(state);
        for (int s = 0; s < Layout.SLOTS; s++) {
            int b = slotBase(s);
            if (state[b] == 0) {
                state[b] = PID;
                state[b + 1] = START;
                return s;
            }
        }
        throw new IllegalStateException("the holder table of shared-memory limit file " + path + " is full: "
                + Layout.SLOTS + " live processes hold slots in it");
    }

    /** Gives back the permits of every process that died; whether any slot was cleared. */
    boolean reclaim(double[] state) {
        boolean cleared = false;
        for (int s = 0; s < Layout.SLOTS; s++) {
            int b = slotBase(s);
            long pid = (long) state[b];
            if (pid == 0 || (pid == PID && state[b + 1] == START) || alive(pid, (long) state[b + 1])) {
                continue;
            }
            cleared = true;
            for (int r = 0; r < layout.resources; r++) {
                double held = state[b + 2 + r];
                if (held > 0) {
                    layout.algorithms.release(state, layout.resourceLimits[r], held);
                }
            }
            Arrays.fill(state, b, b + layout.slotWords, 0);
        }
        return cleared;
    }

    /** Adds {@code sign} × the resource amounts of {@code request} to this process's slot. */
    void add(double[] state, int slot, ResolvedRequest request, int sign) {
        int b = slotBase(slot);
        for (int j = 0; j < request.size(); j++) {
            int r = layout.resourceIndex[request.limitIndex(j)];
            if (r >= 0) {
                state[b + 2 + r] = Math.max(0, state[b + 2 + r] + sign * request.amount(j));
            }
        }
    }

    /** Clears every slot (after a reboot no process can still hold anything). */
    void clear(double[] state) {
        if (layout.resources > 0) {
            Arrays.fill(state, layout.holdersBase, layout.holdersBase + Layout.SLOTS * layout.slotWords, 0);
        }
    }

    static boolean alive(long pid, long startMillis) {
        Optional<ProcessHandle> handle = ProcessHandle.of(pid);
        if (handle.isEmpty() || !handle.get().isAlive()) {
            return false;
        }
        if (startMillis != 0) {
            long start = startMillis(handle.get());
            // Another process now has this pid: the holder is dead.
            return start == 0 || Math.abs(start - startMillis) <= 1_000;
        }
        return true;
    }

    private static long startMillis(ProcessHandle handle) {
        return handle.info().startInstant().map(Instant::toEpochMilli).orElse(0L);
    }

    private static long bootId() {
        try {
            String id = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim();
            return id.isEmpty() ? 0 : SharedFile.fnv64(id);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }
}
