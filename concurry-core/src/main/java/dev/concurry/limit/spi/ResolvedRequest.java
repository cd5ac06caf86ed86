package dev.concurry.limit.spi;

import dev.concurry.limit.CallLimit;
import dev.concurry.limit.Limit;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A {@link Request} resolved against one set's limits (SPEC L9, L10): which limits it takes and how
 * many units of each, in the set's order. The engine resolves every request once per set (the result is
 * cached on the request) and hands stores this form, so that every backend takes the same units.
 *
 * <pre>{@code
 * ResolvedRequest r = ResolvedRequest.resolve(definition, Request.of("tokens", 100));
 * for (int j = 0; j < r.size(); j++) {
 *     take(r.limitIndex(j), r.amount(j));          // limit index in definition.limits(), units
 * }
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class ResolvedRequest {
    /** Indexes of the limits taken, in the set's order. */
    final int[] limits;
    /** Units taken of each, parallel to {@link #limits}. */
    final double[] amounts;
    private final String[] keys;
    private final long mask;
    private final long touches;
    private final boolean holdsResource;
    private final boolean ratesOnly;
    private final Map<String, Double> granted;

    private ResolvedRequest(int[] limits, double[] amounts, String[] keys, long mask, boolean holdsResource,
            boolean ratesOnly, Map<String, Double> granted) {
        this.limits = limits;
        this.amounts = amounts;
        this.keys = keys;
        this.mask = mask;
        long all = 0;
        for (int i : limits) {
            all |= 1L << i;
        }
        this.touches = all;
        this.holdsResource = holdsResource;
        this.ratesOnly = ratesOnly;
        this.granted = granted;
    }

    /**
     * Resolves {@code request} against the limits of {@code definition}.
     *
     * @throws IllegalArgumentException for an unknown key (the message lists the known keys), an amount
     *                                  above capacity, a fractional amount of a resource, or the empty
     *                                  request on a set with a plain rate limit
     */
    public static ResolvedRequest resolve(LimitSetDefinition definition, Request request) {
        Objects.requireNonNull(request, "request");
        String setName = definition.name();
        List<Limit> specs = definition.limits();
        double[] byLimit = new double[specs.size()];
        Arrays.fill(byLimit, -1);
        if (request.isEmpty()) {
            for (int i = 0; i < specs.size(); i++) {
                Limit limit = specs.get(i);
                if (limit instanceof RateLimit rate) {
                    throw new IllegalArgumentException("the empty request cannot take RateLimit '" + rate.key()
                            + "' of set '" + setName + "': name an amount, e.g. Request.of(\"" + rate.key()
                            + "\", 1)");
                }
                byLimit[i] = 1;
            }
        } else {
            for (int r = 0; r < request.size(); r++) {
                String key = request.key(r);
                double amount = request.amount(r);
                int i = indexOf(specs, key);
                if (i < 0) {
                    throw new IllegalArgumentException("unknown key '" + key + "' in " + request + " for set '"
                            + setName + "'; known keys: " + keys(specs));
                }
                Limit limit = specs.get(i);
                if (amount > limit.capacity()) {
                    throw new IllegalArgumentException("amount " + amount + " of '" + key + "' exceeds its capacity "
                            + limit.capacity() + " in set '" + setName + "'; this request could never be granted");
                }
                if (limit instanceof ResourceLimit && amount != Math.rint(amount)) {
                    throw new IllegalArgumentException("amount of ResourceLimit '" + key
                            + "' must be a whole number of permits, got: " + amount);
                }
                byLimit[i] = amount;
            }
            for (int i = 0; i < specs.size(); i++) {
                if (specs.get(i) instanceof CallLimit && byLimit[i] < 0) {
                    byLimit[i] = 1;
                }
            }
        }
        int count = 0;
        for (double amount : byLimit) {
            if (amount >= 0) {
                count++;
            }
        }
        int[] limits = new int[count];
        double[] amounts = new double[count];
        String[] keys = new String[count];
        long mask = 0;
        boolean holdsResource = false;
        boolean ratesOnly = true;
        Map<String, Double> granted = new LinkedHashMap<>();
        int j = 0;
        for (int i = 0; i < byLimit.length; i++) {
            if (byLimit[i] >= 0) {
                Limit limit = specs.get(i);
                limits[j] = i;
                amounts[j] = byLimit[i];
                keys[j] = limit.key();
                j++;
                if (limit instanceof ResourceLimit) {
                    ratesOnly = false;
                }
                if (byLimit[i] > 0) {
                    mask |= 1L << i;
                    holdsResource |= limit instanceof ResourceLimit;
                }
                granted.put(limit.key(), byLimit[i]);
            }
        }
        return new ResolvedRequest(limits, amounts, keys, mask, holdsResource, ratesOnly,
                Collections.unmodifiableMap(granted));
    }

    /** How many limits the request takes. */
    public int size() {
        return limits.length;
    }

    /** Index in the set's limits of the {@code j}-th limit taken. */
    public int limitIndex(int j) {
        return limits[j];
    }

    /** Units of the {@code j}-th limit taken (0 is possible, e.g. {@code call_count = 0}). */
    public double amount(int j) {
        return amounts[j];
    }

    /** Key of the {@code j}-th limit taken. */
    public String key(int j) {
        return keys[j];
    }

    /** Bit i is set when limit i is taken with a positive amount (the keys whose waiters it queues behind). */
    public long mask() {
        return mask;
    }

    /** Bit i is set when limit i is taken, even with amount 0 (the limits whose state it may change). */
    public long touches() {
        return touches;
    }

    /** Whether a resource permit is taken (it must be given back on close). */
    public boolean holdsResource() {
        return holdsResource;
    }

    /** Whether every limit taken is a rate limit (a grant that was never updated needs no settling). */
    public boolean ratesOnly() {
        return ratesOnly;
    }

    /** Units taken by key, in the set's order (what {@code Acquisition.granted()} returns). */
    public Map<String, Double> granted() {
        return granted;
    }

    /** Position {@code j} of {@code key} among the limits taken, or -1 if the request does not take it. */
    public int positionOf(String key) {
        for (int j = 0; j < keys.length; j++) {
            if (keys[j].equals(key)) {
                return j;
            }
        }
        return -1;
    }

    @Override
    public String toString() {
        return "ResolvedRequest" + granted;
    }

    static int indexOf(List<Limit> specs, String key) {
        for (int i = 0; i < specs.size(); i++) {
            if (specs.get(i).key().equals(key)) {
                return i;
            }
        }
        return -1;
    }

    static List<String> keys(List<Limit> specs) {
        List<String> keys = new ArrayList<>(specs.size());
        specs.forEach(limit -> keys.add(limit.key()));
        return keys;
    }
}
