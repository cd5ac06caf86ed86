package dev.concurry.limit;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A {@link Request} resolved against one set's limits (SPEC L9, L10): which limits it takes and how
 * many units of each. For {@link LimitBackend} implementations in other modules (such as
 * {@code concurry-redis}), so that every backend resolves and validates requests the same way;
 * applications never need it.
 *
 * <pre>{@code
 * ResolvedRequest r = ResolvedRequest.resolve(this, request);   // inside a backend's LimitSet
 * for (int j = 0; j < r.size(); j++) {
 *     take(r.limitIndex(j), r.amount(j));
 * }
 * }</pre>
 *
 * <p>The result is cached on the request for {@code owner}, so resolving the same request for the
 * same set again allocates nothing.
 */
public final class ResolvedRequest {
    private final Prepared prepared;

    private ResolvedRequest(Prepared prepared) {
        this.prepared = prepared;
    }

    /**
     * Resolves {@code request} against {@code owner.limits()}.
     *
     * @throws IllegalArgumentException for an unknown key, an amount above capacity, a fractional
     *                                  amount of a resource, or the empty request on a set with a
     *                                  plain rate limit
     */
    public static ResolvedRequest resolve(LimitSet owner, Request request) {
        Objects.requireNonNull(request, "request");
        Object cached = request.cached(owner);
        if (cached instanceof ResolvedRequest resolved) {
            return resolved;
        }
        ResolvedRequest resolved = new ResolvedRequest(Prepared.resolve(owner.name(), owner.limits(), request));
        request.cache(owner, resolved);
        return resolved;
    }

    /** How many limits the request takes. */
    public int size() {
        return prepared.limits.length;
    }

    /** Index in the set's {@link LimitSet#limits()} of the {@code j}-th limit taken. */
    public int limitIndex(int j) {
        return prepared.limits[j];
    }

    /** Units of the {@code j}-th limit taken (0 is possible, e.g. {@code call_count = 0}). */
    public double amount(int j) {
        return prepared.amounts[j];
    }

    /** Bit i is set when limit i is taken with a positive amount. */
    public long mask() {
        return prepared.mask;
    }

    /** Whether a resource limit is taken (its permits must be given back). */
    public boolean holdsResource() {
        return prepared.holdsResource;
    }

    /** Units taken by key, in the set's order (what {@link Acquisition#granted()} returns). */
    public Map<String, Double> granted() {
        return prepared.granted;
    }

    /** Position {@code j} of {@code key} among the limits taken, or -1 if the request does not take it. */
    public int positionOf(List<Limit> specs, String key) {
        return prepared.positionOf(specs, key);
    }
}
