package dev.concurry.limit.shm;

import dev.concurry.limit.spi.ResolvedRequest;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The holder table of a limit file: which live process holds how many permits of each resource
 * limit, so that the permits of a process that died (even by {@code kill -9}) are given back. It has
 * {@value Layout#SLOTS} slots of (pid, start stamp — see {@link Incarnation} —, permits held of each
 * resource limit) in the state words; a process takes a slot when it first opens a set with resource
 * limits. At most every {@value #RECLAIM_MILLIS} ms under the lock, the table is scanned: a slot whose
 * process is not alive (or whose pid now belongs to another incarnation) is cleared and its permits
 * released, in the same transaction.
 *
 * <p>Invariant: a resource limit's permits held equal the sum of its column. A grant made for a
 * waiter of another process (see {@link Tickets}) is added to that process's slot.
 */
final class Holders {
    static final int RECLAIM_MILLIS = 50;

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
            if (state[b] == Incarnation.PID && state[b + 1] == Incarnation.STAMP) {
                return s;
            }
        }
        reclaim(state);
        for (int s = 0; s < Layout.SLOTS; s++) {
            int b = slotBase(s);
            if (state[b] == 0) {
                state[b] = Incarnation.PID;
                state[b + 1] = Incarnation.STAMP;
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
            if (pid == 0 || Incarnation.alive(pid, (long) state[b + 1])) {
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

    /** Adds {@code sign} × the resource amounts of {@code request} to {@code slot}. */
    void add(double[] state, int slot, ResolvedRequest request, int sign) {
        int b = slotBase(slot);
        for (int j = 0; j < request.size(); j++) {
            int r = layout.resourceIndex[request.limitIndex(j)];
            if (r >= 0) {
                state[b + 2 + r] = Math.max(0, state[b + 2 + r] + sign * request.amount(j));
            }
        }
    }

    /** Permits of resource limit {@code limit} that the table says are held, at most its capacity. */
    double held(double[] state, int limit) {
        int r = layout.resourceIndex[limit];
        double sum = 0;
        for (int s = 0; s < Layout.SLOTS; s++) {
            sum += state[slotBase(s) + 2 + r];
        }
        return Math.min(sum, layout.algorithms.limits().get(limit).capacity());
    }

    /**
     * Clears every slot whose words are impossible (a pid or stamp that is not a 32-bit whole number,
     * a count of permits that is not a whole number within the capacity, permits without a pid);
     * returns a description of what was cleared, or null.
     */
    String repair(double[] state) {
        StringBuilder cleared = null;
        for (int s = 0; s < Layout.SLOTS; s++) {
            int b = slotBase(s);
            boolean valid = id(state[b]) && id(state[b + 1]);
            for (int r = 0; r < layout.resources && valid; r++) {
                double held = state[b + 2 + r];
                double capacity = layout.algorithms.limits().get(layout.resourceLimits[r]).capacity();
                valid = held >= 0 && held <= capacity && held == Math.rint(held) && (held == 0 || state[b] != 0);
            }
            if (!valid) {
                cleared = (cleared == null ? new StringBuilder("cleared holder slots") : cleared.append(','))
                        .append(' ')
                        .append(s).append(' ')
                        .append(Arrays.toString(Arrays.copyOfRange(state, b, b + layout.slotWords)));
                Arrays.fill(state, b, b + layout.slotWords, 0);
            }
        }
        return cleared == null ? null : cleared.toString();
    }

    private static boolean id(double x) {
        return x >= 0 && x <= 0xFFFF_FFFFL && x == Math.rint(x);
    }

    /** Clears every slot (after a reboot no process can still hold anything). */
    void clear(double[] state) {
        if (layout.resources > 0) {
            Arrays.fill(state, layout.holdersBase, layout.holdersBase + Layout.SLOTS * layout.slotWords, 0);
        }
    }
}
