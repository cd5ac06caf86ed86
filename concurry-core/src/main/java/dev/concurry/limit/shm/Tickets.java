package dev.concurry.limit.shm;

import dev.concurry.limit.Limit;
import dev.concurry.limit.spi.ResolvedRequest;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The queue of waiters across processes (SPEC L12: the order holds across JVMs): a ring of tickets
 * in the state words, in the order their waiters arrived (the host-wide clock reading when the store
 * first saw them, even if the lock was not free then). A waiter that a store cannot grant at once
 * takes a ticket; every process decides the tickets in arrival order, its own newcomers merged in by
 * theirs, so a waiter that queued first, in any JVM, is served first for the keys it waits on, and no
 * JVM wins by polling faster.
 *
 * <p>Whoever holds the lock grants every ticket that can be granted, whatever process it belongs to:
 * it takes the units in the state (and a resource's permits in the owner's holder slot) and writes
 * the grant's sequence number into the ticket, and the owner collects it the next time it decides
 * (a waiting process watches the generation word, which moves with every such event). A granted
 * ticket blocks nobody; a paused or slow owner therefore never holds up the queue.
 *
 * <p>A ticket is dropped when its owner collects the grant, when its waiter leaves (timeout,
 * interrupt, cancel: given back if it had been granted meanwhile), when its set is closed, and when
 * its process is found dead (with the holder table's reclaim; its permits come back from its slot).
 * The ring holds {@value #CAPACITY} tickets; waiters beyond that wait without one (first come, first
 * served within their JVM) until a place frees up.
 *
 * <p>Words: a header (head, size, next number, keys of waiting tickets as two 32-bit halves), then
 * per ticket: number (unique, 0 = dropped), arrival (state time), owner pid, owner stamp, owner set
 * token, waiter id, grant sequence number (0 = waiting), owner holder slot (-1 = none), then the amount
 * of each limit of the set (-1 = not taken).
 */
final class Tickets {
    static final int CAPACITY = 128;

    static final int HEAD = 0;
    static final int SIZE = 1;
    static final int NEXT = 2;
    static final int WAITING_LOW = 3;
    static final int WAITING_HIGH = 4;
    static final int HEADER = 5;

    static final int NUMBER = 0;
    static final int ARRIVAL = 1;
    static final int OWNER_PID = 2;
    static final int OWNER_STAMP = 3;
    static final int OWNER_TOKEN = 4;
    static final int WAITER = 5;
    static final int SEQ = 6;
    static final int SLOT = 7;
    static final int AMOUNTS = 8;

    private final int base;
    private final int entryWords;
    private final double[] capacities;
    /** Words of the whole queue region. */
    final int words;

    Tickets(int base, List<Limit> limits) {
        this.base = base;
        this.capacities = limits.stream().mapToDouble(Limit::capacity).toArray();
        this.entryWords = AMOUNTS + limits.size();
        this.words = HEADER + CAPACITY * entryWords;
    }

    /** An empty queue. */
    void init(double[] s) {
        Arrays.fill(s, base, base + words, 0);
        s[base + NEXT] = 1;
    }

    /** Tickets between the oldest and the newest, dropped ones included. */
    int size(double[] s) {
        return (int) s[base + SIZE];
    }

    /** Where the oldest ticket is in the ring. */
    int head(double[] s) {
        return (int) s[base + HEAD];
    }

    /**
     * Where the {@code k}-th ticket from {@code head} starts. Tickets never move while others are
     * granted or dropped, so a walk may keep the head and size it started with.
     */
    int at(int head, int k) {
        return base + HEADER + ((head + k) % CAPACITY) * entryWords;
    }

    private int entry(double[] s, int k) {
        return at(head(s), k);
    }

    boolean live(double[] s, int e) {
        return s[e + NUMBER] != 0;
    }

    boolean granted(double[] s, int e) {
        return s[e + SEQ] != 0;
    }

    /** The keys (bit i for limit i) that waiting tickets need; 0 when nobody waits in any process. */
    long waiting(double[] s) {
        return (long) s[base + WAITING_LOW] | (long) s[base + WAITING_HIGH] << 32;
    }

    boolean mine(double[] s, int e, int token) {
        return s[e + OWNER_TOKEN] == token && s[e + OWNER_PID] == Incarnation.PID
                && s[e + OWNER_STAMP] == Incarnation.STAMP;
    }

    /** When the waiter of ticket {@code e} arrived (state time). */
    double arrival(double[] s, int e) {
        return s[e + ARRIVAL];
    }

    /**
     * Inserts a ticket for waiter {@code waiter} of the set {@code token} of this process, which
     * arrived at {@code arrival}, after every ticket that arrived no later; false when the ring is full
     * of live tickets.
     */
    boolean take(double[] s, int token, long waiter, double arrival, ResolvedRequest r, int slot) {
        if (size(s) == CAPACITY && !compact(s)) {
            return false;
        }
        int size = size(s);
        int head = head(s);
        int k = size;
        while (k > 0 && s[at(head, k - 1) + ARRIVAL] > arrival) {
            System.arraycopy(s, at(head, k - 1), s, at(head, k), entryWords);
            k--;
        }
        int e = at(head, k);
        s[e + NUMBER] = s[base + NEXT];
        s[e + ARRIVAL] = arrival;
        s[base + NEXT]++;
        s[e + OWNER_PID] = Incarnation.PID;
        s[e + OWNER_STAMP] = Incarnation.STAMP;
        s[e + OWNER_TOKEN] = token;
        s[e + WAITER] = waiter;
        s[e + SEQ] = 0;
        s[e + SLOT] = slot;
        Arrays.fill(s, e + AMOUNTS, e + entryWords, -1);
        for (int j = 0; j < r.size(); j++) {
            s[e + AMOUNTS + r.limitIndex(j)] = r.amount(j);
        }
        s[base + SIZE] = size + 1;
        setWaiting(s, waiting(s) | r.mask());
        return true;
    }

    /** Records that ticket {@code e} was granted with sequence number {@code seq}. */
    void grant(double[] s, int e, long seq) {
        s[e + SEQ] = seq;
        updateWaiting(s);
    }

    /** Drops ticket {@code e}. */
    void drop(double[] s, int e) {
        s[e + NUMBER] = 0;
        int head = head(s);
        int size = size(s);
        while (size > 0 && !live(s, at(head, 0))) {
            head = (head + 1) % CAPACITY;
            size--;
        }
        while (size > 0 && !live(s, at(head, size - 1))) {
            size--;
        }
        s[base + HEAD] = size == 0 ? 0 : head;
        s[base + SIZE] = size;
        updateWaiting(s);
    }

    /** Packs the live tickets together, in order; whether a place was freed. */
    private boolean compact(double[] s) {
        int size = size(s);
        int kept = 0;
        for (int k = 0; k < size; k++) {
            int from = entry(s, k);
            if (live(s, from)) {
                int to = entry(s, kept++);
                if (to != from) {
                    System.arraycopy(s, from, s, to, entryWords);
                    s[from + NUMBER] = 0;
                }
            }
        }
        s[base + SIZE] = kept;
        return kept < CAPACITY;
    }

    /** The amount of limit {@code limit} that ticket {@code e} takes, or -1. */
    double amount(double[] s, int e, int limit) {
        return s[e + AMOUNTS + limit];
    }

    private void updateWaiting(double[] s) {
        long mask = 0;
        for (int k = 0, n = size(s); k < n; k++) {
            int e = entry(s, k);
            if (live(s, e) && !granted(s, e)) {
                for (int i = 0; i < capacities.length; i++) {
                    if (s[e + AMOUNTS + i] > 0) {
                        mask |= 1L << i;
                    }
                }
            }
        }
        setWaiting(s, mask);
    }

    private void setWaiting(double[] s, long mask) {
        s[base + WAITING_LOW] = mask & 0xFFFF_FFFFL;
        s[base + WAITING_HIGH] = mask >>> 32;
    }

    /** Drops the tickets of processes that died; whether any was dropped. */
    boolean reclaim(double[] s) {
        boolean dropped = false;
        Map<Long, Boolean> alive = new HashMap<>();     // each owner is looked up once (a read of /proc)
        for (int k = 0, head = head(s), size = size(s); k < size; k++) {
            int e = at(head, k);
            if (!live(s, e)) {
                continue;
            }
            long pid = (long) s[e + OWNER_PID];
            long stamp = (long) s[e + OWNER_STAMP];
            if (!alive.computeIfAbsent(pid << 32 ^ stamp, owner -> Incarnation.alive(pid, stamp))) {
                drop(s, e);
                dropped = true;
            }
        }
        return dropped;
    }

    /** What is wrong with the header (cheap: on every reload), or null. */
    String checkHeader(double[] s) {
        double head = s[base + HEAD];
        double size = s[base + SIZE];
        double next = s[base + NEXT];
        if (!whole(head) || head < 0 || head >= CAPACITY || !whole(size) || size < 0 || size > CAPACITY
                || !whole(next) || next < 1 || next >= 0x1p53
                || !whole(s[base + WAITING_LOW]) || !whole(s[base + WAITING_HIGH])) {
            return "queue header " + Arrays.toString(Arrays.copyOfRange(s, base, base + HEADER));
        }
        return null;
    }

    /** What is wrong with the queue (every ticket: on open), or null. */
    String check(double[] s) {
        String header = checkHeader(s);
        if (header != null) {
            return header;
        }
        double previous = Double.NEGATIVE_INFINITY;
        for (int k = 0, n = size(s); k < n; k++) {
            int e = entry(s, k);
            double number = s[e + NUMBER];
            if (number == 0) {
                continue;
            }
            boolean valid = whole(number) && number > 0 && number < s[base + NEXT]
                    && Double.isFinite(s[e + ARRIVAL]) && s[e + ARRIVAL] >= previous
                    && id(s[e + OWNER_PID]) && id(s[e + OWNER_STAMP]) && id(s[e + OWNER_TOKEN])
                    && whole(s[e + WAITER]) && s[e + WAITER] >= 0 && whole(s[e + SEQ]) && s[e + SEQ] >= 0
                    && whole(s[e + SLOT]) && s[e + SLOT] >= -1 && s[e + SLOT] < Layout.SLOTS;
            for (int i = 0; i < capacities.length && valid; i++) {
                double a = s[e + AMOUNTS + i];
                valid = a == -1 || a >= 0 && a <= capacities[i];
            }
            if (!valid) {
                return "ticket " + k + " " + Arrays.toString(Arrays.copyOfRange(s, e, e + entryWords));
            }
            previous = s[e + ARRIVAL];
        }
        return null;
    }

    private static boolean whole(double x) {
        return x == Math.rint(x);
    }

    private static boolean id(double x) {
        return x >= 0 && x <= 0xFFFF_FFFFL && whole(x);
    }
}
