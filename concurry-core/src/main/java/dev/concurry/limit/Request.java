package dev.concurry.limit;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What an acquisition takes: an immutable list of keys with amounts (SPEC L9). Besides the keys it
 * names, a request takes one unit of every {@link CallLimit} it does not name. The {@link #empty()}
 * request takes one unit of every call limit and every resource limit of the set.
 *
 * <pre>{@code
 * Request llmCall = Request.of("requests", 1).and("tokens", 100);
 * try (Acquisition acq = limits.acquire(llmCall)) { ... }
 * }</pre>
 *
 * <p>Requests are values: build them once and reuse them. A request remembers how each of the last few
 * sets it was used with resolved it, so acquiring with the same request again does no look-ups and
 * allocates nothing.
 */
public final class Request {
    private static final Request EMPTY = new Request(new String[0], new double[0]);

    private final String[] keys;
    private final double[] amounts;
    /** How many sets a request remembers its resolved form for. */
    private static final int CACHED_OWNERS = 4;
    /** The owners' resolved forms: {@code [owner0, prepared0, owner1, prepared1, ...]}; see {@link #cached}. */
    private volatile Object[] prepared;

    private Request(String[] keys, double[] amounts) {
        this.keys = keys;
        this.amounts = amounts;
    }

    /** The request that names no key: one unit of every call limit and every resource limit. */
    public static Request empty() {
        return EMPTY;
    }

    /**
     * A request for {@code amount} units of {@code key}.
     *
     * @throws IllegalArgumentException if the key is blank or the amount is negative, NaN or infinite
     */
    public static Request of(String key, double amount) {
        return EMPTY.and(key, amount);
    }

    /**
     * A request for every key of {@code amounts}, in the map's iteration order.
     *
     * @throws IllegalArgumentException if a key is blank or an amount is negative, NaN or infinite
     */
    public static Request of(Map<String, ? extends Number> amounts) {
        Objects.requireNonNull(amounts, "amounts");
        Request request = EMPTY;
        for (Map.Entry<String, ? extends Number> entry : amounts.entrySet()) {
            if (entry.getValue() == null) {
                throw new IllegalArgumentException("amount of '" + entry.getKey() + "' must not be null");
            }
            request = request.and(entry.getKey(), entry.getValue().doubleValue());
        }
        return request;
    }

    /**
     * This request plus {@code amount} units of {@code key}.
     *
     * @throws IllegalArgumentException if the key is blank or already in this request, or the amount
     *                                  is negative, NaN or infinite
     */
    public Request and(String key, double amount) {
        Specs.key(key);
        if (Double.isNaN(amount) || Double.isInfinite(amount) || amount < 0) {
            throw new IllegalArgumentException("amount of '" + key
                    + "' must be a finite number >= 0, got: " + amount);
        }
        for (String existing : keys) {
            if (existing.equals(key)) {
                throw new IllegalArgumentException("key '" + key + "' is already in this request: " + this);
            }
        }
        String[] newKeys = Arrays.copyOf(keys, keys.length + 1);
        double[] newAmounts = Arrays.copyOf(amounts, amounts.length + 1);
        newKeys[keys.length] = key;
        newAmounts[keys.length] = amount;
        return new Request(newKeys, newAmounts);
    }

    /** The keys and amounts, in the order they were added. */
    public Map<String, Double> amounts() {
        Map<String, Double> map = new LinkedHashMap<>();
        for (int i = 0; i < keys.length; i++) {
            map.put(keys[i], amounts[i]);
        }
        return Collections.unmodifiableMap(map);
    }

    /** Whether this request names no key. */
    public boolean isEmpty() {
        return keys.length == 0;
    }

    /** How many keys this request names. */
    public int size() {
        return keys.length;
    }

    /** The {@code i}-th key named, in the order they were added. */
    public String key(int i) {
        return keys[i];
    }

    /** The amount of the {@code i}-th key named. */
    public double amount(int i) {
        return amounts[i];
    }

    /** The prepared form {@code owner} stored, or null when it stored none (or it was evicted). */
    Object cached(Object owner) {
        Object[] entries = prepared;
        if (entries != null) {
            for (int i = 0; i < entries.length; i += 2) {
                if (entries[i] == owner) {
                    return entries[i + 1];
                }
            }
        }
        return null;
    }

    /**
     * Remembers {@code owner}'s prepared form. Up to {@link #CACHED_OWNERS} owners are kept (a request
     * used with every set of a small pool stays prepared for each); beyond that the oldest is evicted.
     * Copy-on-write: readers never lock.
     */
    void cache(Object owner, Object value) {
        Object[] entries = prepared;
        int size = entries == null ? 0 : entries.length;
        Object[] next;
        if (size < 2 * CACHED_OWNERS) {
            next = new Object[size + 2];
            if (size > 0) {
                System.arraycopy(entries, 0, next, 0, size);
            }
            next[size] = owner;
            next[size + 1] = value;
        } else {
            next = new Object[size];
            System.arraycopy(entries, 2, next, 0, size - 2);
            next[size - 2] = owner;
            next[size - 1] = value;
        }
        prepared = next;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Request other && Arrays.equals(keys, other.keys) && Arrays.equals(amounts, other.amounts);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(keys) + Arrays.hashCode(amounts);
    }

    @Override
    public String toString() {
        return "Request" + amounts();
    }
}
