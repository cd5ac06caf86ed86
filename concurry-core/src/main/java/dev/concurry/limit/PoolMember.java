package dev.concurry.limit;

import dev.concurry.limit.spi.Probe;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** One set of a {@link LimitPool}, with what the pool needs to route requests to it. */
final class PoolMember {
    final LimitSet set;
    final int index;
    final LongAdder dispatched = new LongAdder();
    private final Map<String, Limit> byKey = new HashMap<>();
    private final List<Limit> limits;

    PoolMember(LimitSet set, int index) {
        this.set = set;
        this.index = index;
        this.limits = List.copyOf(set.limits());
        limits.forEach(limit -> byKey.put(limit.key(), limit));
    }

    boolean hasKey(String key) {
        return byKey.containsKey(key);
    }

    /**
     * Why this set could never grant {@code request} (SPEC L9, L10, L23), or null when it could: a key
     * it lacks, an amount above a key's capacity, a fractional amount of a resource, or the empty
     * request on a set with a plain rate limit (which needs an amount). A set with no limits grants
     * everything and ignores keys (SPEC L14), so it is eligible for every request.
     */
    String ineligibility(Request request) {
        if (limits.isEmpty()) {
            return null;
        }
        if (request.isEmpty()) {
            for (Limit limit : limits) {
                if (limit instanceof RateLimit) {
                    return "set '" + set.name() + "' has RateLimit '" + limit.key()
                            + "', which the empty request cannot take";
                }
            }
            return null;
        }
        for (int i = 0; i < request.size(); i++) {
            String key = request.key(i);
            double amount = request.amount(i);
            Limit limit = byKey.get(key);
            if (limit == null) {
                return "set '" + set.name() + "' has no key '" + key + "' (it has " + byKey.keySet() + ")";
            }
            if (amount > limit.capacity()) {
                return "set '" + set.name() + "': amount " + amount + " of '" + key + "' exceeds its capacity "
                        + limit.capacity();
            }
            if (limit instanceof ResourceLimit && amount != Math.rint(amount)) {
                return "set '" + set.name() + "': '" + key + "' is a ResourceLimit and " + amount
                        + " is not a whole number of permits";
            }
        }
        return null;
    }

    /**
     * The smallest fraction of capacity left once {@code request} would be granted, over the keys it
     * takes here (1 when it takes none): negative when the set cannot grant it now, and
     * {@link Double#NEGATIVE_INFINITY} when an acquirer is already queued on one of those keys (the set
     * does not let a newcomer overtake it). Asked of the set when it answers {@link Probe} (every
     * set the core builds), else read from {@link LimitSet#stats()}; only a hint: the set's own
     * {@code tryAcquire} decides.
     */
    double headroom(Request request) {
        if (set instanceof Probe known) {
            return known.headroom(request);
        }
        LimitStats stats = set.stats();
        double least = 1;
        if (request.isEmpty()) {
            for (Limit limit : limits) {
                least = Math.min(least, headroom(stats, limit.key(), 1));
            }
            return least;
        }
        for (int i = 0; i < request.size(); i++) {
            least = Math.min(least, headroom(stats, request.key(i), request.amount(i)));
        }
        for (Limit limit : limits) {
            if (limit instanceof CallLimit && !named(request, limit.key())) {
                least = Math.min(least, headroom(stats, limit.key(), 1));
            }
        }
        return least;
    }

    private static double headroom(LimitStats stats, String key, double amount) {
        LimitStats.KeyStats k = stats.keys().get(key);
        if (k == null || amount == 0) {
            return 1;
        }
        if (k.waiting() > 0) {
            return Double.NEGATIVE_INFINITY;
        }
        return (k.available() - amount) / k.capacity();
    }

    private static boolean named(Request request, String key) {
        for (int i = 0; i < request.size(); i++) {
            if (request.key(i).equals(key)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Gives back an acquisition nobody will use (it lost a race, or its acquirer gave up): rate limits
     * are settled to zero usage so their units are refunded, then closing releases resource permits.
     * Closing alone would leave the requested rate units counted (SPEC L13: "never updated → the
     * requested amount stands").
     */
    void giveBack(Acquisition acquisition) {
        try {
            Map<String, Double> unused = new HashMap<>();
            for (String key : acquisition.granted().keySet()) {
                Limit limit = byKey.get(key);
                if (limit != null && !(limit instanceof ResourceLimit)) {
                    unused.put(key, 0.0);
                }
            }
            if (!unused.isEmpty()) {
                acquisition.update(unused);
            }
        } catch (RuntimeException e) {
            // A backend that refuses the settlement still releases everything on close, which is all
            // that is left to do here; there is no caller to tell.
        } finally {
            acquisition.close();
        }
    }

    @Override
    public String toString() {
        return set.name();
    }
}
