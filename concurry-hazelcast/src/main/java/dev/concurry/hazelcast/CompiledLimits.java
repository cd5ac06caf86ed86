package dev.concurry.hazelcast;

import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import dev.concurry.limit.CallLimit;
import dev.concurry.limit.Limit;
import dev.concurry.limit.RateAlgorithm;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.limit.spi.LimitSetDefinition;
import dev.concurry.limit.spi.ResolvedRequest;
import dev.concurry.limit.spi.SetAlgorithms;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;

/**
 * Core's algorithms for one list of limits, built once per JVM and shared by every stored set with those
 * limits (the entry processors run on the partition threads of the key owners, which must not rebuild
 * them per call). Also the wire form of limits and of resolved requests: limits are written field by
 * field (no Java serialization on the members), requests as the (limit index, amount) pairs the caller's
 * engine resolved, which resolve again here to the same units.
 */
final class CompiledLimits {
    private static final ConcurrentMap<List<Limit>, CompiledLimits> CACHE = new ConcurrentHashMap<>();
    /** Distinct lists of limits kept compiled; beyond it the cache starts afresh (sets are few in practice). */
    private static final int MAX_CACHED = 1024;
    /** Distinct requests kept resolved per list of limits. */
    private static final int MAX_REQUESTS = 4096;

    final List<Limit> limits;
    final SetAlgorithms algorithms;
    private final LimitSetDefinition definition;
    private final ConcurrentMap<RequestKey, ResolvedRequest> requests = new ConcurrentHashMap<>();

    private CompiledLimits(List<Limit> limits) {
        this.limits = List.copyOf(limits);
        this.algorithms = new SetAlgorithms(this.limits);
        this.definition = new LimitSetDefinition("(stored in the cluster)", this.limits, java.util.Map.of());
    }

    static CompiledLimits of(List<Limit> limits) {
        CompiledLimits compiled = CACHE.get(limits);
        if (compiled != null) {
            return compiled;
        }
        if (CACHE.size() >= MAX_CACHED) {
            CACHE.clear();
        }
        return CACHE.computeIfAbsent(List.copyOf(limits), CompiledLimits::new);
    }

    /** The request taking {@code amounts[j]} units of limit {@code limits[j]}, as the caller resolved it. */
    ResolvedRequest resolve(int[] limitIndexes, double[] amounts) {
        RequestKey key = new RequestKey(limitIndexes, amounts);
        ResolvedRequest r = requests.get(key);
        if (r == null) {
            if (requests.size() >= MAX_REQUESTS) {
                requests.clear();
            }
            Request request = Request.empty();
            for (int j = 0; j < limitIndexes.length; j++) {
                request = request.and(limits.get(limitIndexes[j]).key(), amounts[j]);
            }
            r = ResolvedRequest.resolve(definition, request);
            requests.put(key, r);
        }
        return r;
    }

    /**
     * The rate limits of {@code r} only, with {@code used} (per position of {@code r}) mapped to the new
     * positions: what is left to settle of a grant whose resource permits were already reclaimed.
     */
    Settlement ratesOf(ResolvedRequest r, double[] used) {
        int count = 0;
        for (int j = 0; j < r.size(); j++) {
            if (!algorithms.isResource(r.limitIndex(j))) {
                count++;
            }
        }
        int[] indexes = new int[count];
        double[] amounts = new double[count];
        double[] usage = used == null ? null : new double[count];
        int k = 0;
        for (int j = 0; j < r.size(); j++) {
            if (!algorithms.isResource(r.limitIndex(j))) {
                indexes[k] = r.limitIndex(j);
                amounts[k] = r.amount(j);
                if (usage != null) {
                    usage[k] = used[j];
                }
                k++;
            }
        }
        return new Settlement(count == 0 ? null : resolve(indexes, amounts), usage);
    }

    /** A request and its usage to settle; {@code request} is null when nothing is left to settle. */
    record Settlement(ResolvedRequest request, double[] used) {
    }

    /** The caller's form of {@code r}: limit indexes and amounts, in the set's order. */
    static int[] indexes(ResolvedRequest r) {
        int[] indexes = new int[r.size()];
        for (int j = 0; j < indexes.length; j++) {
            indexes[j] = r.limitIndex(j);
        }
        return indexes;
    }

    static double[] amounts(ResolvedRequest r) {
        double[] amounts = new double[r.size()];
        for (int j = 0; j < amounts.length; j++) {
            amounts[j] = r.amount(j);
        }
        return amounts;
    }

    // ---- limits on the wire ----------------------------------------------------------------------

    private static final byte RATE = 1;
    private static final byte CALLS = 2;
    private static final byte RESOURCE = 3;

    static void write(ObjectDataOutput out, List<Limit> limits) throws IOException {
        out.writeInt(limits.size());
        for (Limit limit : limits) {
            switch (limit) {
                case RateLimit rate -> {
                    out.writeByte(RATE);
                    out.writeString(rate.key());
                    out.writeDouble(rate.capacity());
                    writeWindow(out, rate.window(), rate.algorithm());
                }
                case CallLimit calls -> {
                    out.writeByte(CALLS);
                    out.writeDouble(calls.capacity());
                    writeWindow(out, calls.window(), calls.algorithm());
                }
                case ResourceLimit resource -> {
                    out.writeByte(RESOURCE);
                    out.writeString(resource.key());
                    out.writeInt(resource.permits());
                }
            }
        }
    }

    private static void writeWindow(ObjectDataOutput out, Duration window, RateAlgorithm algorithm) throws IOException {
        out.writeLong(window.getSeconds());
        out.writeInt(window.getNano());
        out.writeString(algorithm.name());
    }

    static List<Limit> read(ObjectDataInput in) throws IOException {
        int n = in.readInt();
        List<Limit> limits = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            byte kind = in.readByte();
            limits.add(switch (kind) {
                case RATE -> {
                    String key = in.readString();
                    double capacity = in.readDouble();
                    Duration window = Duration.ofSeconds(in.readLong(), in.readInt());
                    yield RateLimit.of(key, capacity, window, RateAlgorithm.valueOf(in.readString()));
                }
                case CALLS -> {
                    double capacity = in.readDouble();
                    Duration window = Duration.ofSeconds(in.readLong(), in.readInt());
                    yield CallLimit.of(capacity, window, RateAlgorithm.valueOf(in.readString()));
                }
                case RESOURCE -> {
                    String key = in.readString();
                    yield ResourceLimit.of(key, in.readInt());
                }
                default -> throw new IOException("unknown kind of limit " + kind + " in a stored limit set");
            });
        }
        return limits;
    }

    /**
     * A stable digest of {@code limits} (the same in every JVM, unlike {@code List.hashCode}, which hashes
     * enums by identity), sent with each call so that an owner holding other limits under the name refuses.
     */
    static int signature(List<Limit> limits) {
        return describe(limits).hashCode();
    }

    /** The limits as messages show them. */
    static String describe(List<Limit> limits) {
        return limits.toString();
    }

    private record RequestKey(int[] indexes, double[] amounts) {
        @Override
        public boolean equals(Object o) {
            return o instanceof RequestKey k && Arrays.equals(indexes, k.indexes) && Arrays.equals(amounts, k.amounts);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(indexes) + Arrays.hashCode(amounts);
        }
    }
}
