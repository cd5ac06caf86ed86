package dev.concurry.limit;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A request resolved against one set's limits (SPEC L9, L10): which limits it takes and how much.
 * Built once per (request, set) and cached on the request, so acquiring again allocates nothing.
 */
final class Prepared {
    /** Indexes of the limits taken, in the set's order. */
    final int[] limits;
    /** Units taken of each, parallel to {@link #limits}. */
    final double[] amounts;
    /** Bit i set when limit i is taken with a positive amount (fairness is per key). */
    final long mask;
    /** Bit i set when limit i is taken, even with amount 0 (the limits whose state it may change). */
    final long touches;
    /** Whether a resource limit is taken (its permits must be given back on close). */
    final boolean holdsResource;
    final Map<String, Double> granted;

    private Prepared(int[] limits, double[] amounts, long mask, boolean holdsResource, Map<String, Double> granted) {
        this.limits = limits;
        this.amounts = amounts;
        this.mask = mask;
        long all = 0;
        for (int i : limits) {
            all |= 1L << i;
        }
        this.touches = all;
        this.holdsResource = holdsResource;
        this.granted = granted;
    }

    /**
     * Resolves {@code request} against {@code specs}.
     *
     * @throws IllegalArgumentException for an unknown key, an amount above capacity, a fractional
     *                                  amount of a resource, or the empty request on a set with a
     *                                  plain rate limit
     */
    static Prepared resolve(String setName, List<Limit> specs, Request request) {
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
        long mask = 0;
        boolean holdsResource = false;
        Map<String, Double> granted = new LinkedHashMap<>();
        int j = 0;
        for (int i = 0; i < byLimit.length; i++) {
            if (byLimit[i] >= 0) {
                limits[j] = i;
                amounts[j] = byLimit[i];
                j++;
                if (byLimit[i] > 0) {
                    mask |= 1L << i;
                    holdsResource |= specs.get(i) instanceof ResourceLimit;
                }
                granted.put(specs.get(i).key(), byLimit[i]);
            }
        }
        return new Prepared(limits, amounts, mask, holdsResource, Collections.unmodifiableMap(granted));
    }

    /** Position of limit {@code key} in this request, or -1. */
    int positionOf(List<Limit> specs, String key) {
        for (int j = 0; j < limits.length; j++) {
            if (specs.get(limits[j]).key().equals(key)) {
                return j;
            }
        }
        return -1;
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
