package dev.concurry.spring;

import dev.concurry.limit.CallLimit;
import dev.concurry.limit.Limit;
import dev.concurry.limit.LimitPool;
import dev.concurry.limit.LimitPoolStats;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.LimitStats;
import dev.concurry.limit.RateLimit;
import dev.concurry.worker.PoolStats;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.actuate.endpoint.annotation.ReadOperation;
import org.springframework.boot.actuate.endpoint.annotation.Selector;

/**
 * The actuator endpoint {@code concurry}: every limit set, limit pool and worker pool of the
 * application with its live usage per key. {@code GET /actuator/concurry} lists them all,
 * {@code GET /actuator/concurry/{name}} one by bean name (404 when there is none).
 *
 * <pre>{@code
 * management.endpoints.web.exposure.include: health,concurry
 *
 * $ curl localhost:8080/actuator/concurry/openai
 * {"name":"openai","backend":"in-memory","config":{},"keys":{"requests":{"type":"rate","capacity":500.0,
 *  "window":"PT1M","algorithm":"SLIDING_WINDOW","available":499.0,"inUse":1.0,"waiting":0,...}},...}
 * }</pre>
 */
@Endpoint(id = "concurry")
public class ConcurryEndpoint {
    private final ContextLimiters limiters;

    ConcurryEndpoint(ListableBeanFactory beans) {
        this.limiters = new ContextLimiters(beans);
    }

    /** Everything, by bean name. */
    @ReadOperation
    public Report report() {
        Map<String, SetReport> sets = new LinkedHashMap<>();
        limiters.sets().forEach((name, set) -> sets.put(name, SetReport.of(set)));
        Map<String, PoolReport> pools = new LinkedHashMap<>();
        limiters.pools().forEach((name, pool) -> pools.put(name, PoolReport.of(pool)));
        Map<String, WorkerPoolReport> workers = new LinkedHashMap<>();
        limiters.workerPools().forEach((name, stats) -> workers.put(name, WorkerPoolReport.of(stats)));
        return new Report(sets, pools, workers);
    }

    /**
     * One limit set, limit pool or worker pool by bean name.
     *
     * @param name the bean name
     * @return its report, or {@code null} (404) when there is none of that name
     */
    @ReadOperation
    public Object named(@Selector String name) {
        LimitSet set = limiters.sets().get(name);
        if (set != null) {
            return SetReport.of(set);
        }
        LimitPool pool = limiters.pools().get(name);
        if (pool != null) {
            return PoolReport.of(pool);
        }
        Supplier<PoolStats> workers = limiters.workerPools().get(name);
        return workers != null ? WorkerPoolReport.of(workers) : null;
    }

    /**
     * Everything the endpoint lists.
     *
     * @param limitSets   limit sets by bean name
     * @param limitPools  limit pools by bean name
     * @param workerPools worker pools and task executors by bean name
     */
    public record Report(Map<String, SetReport> limitSets, Map<String, PoolReport> limitPools,
            Map<String, WorkerPoolReport> workerPools) {
    }

    /**
     * One limit set now.
     *
     * @param name     its name in its backend
     * @param backend  its backend, such as {@code in-memory} or {@code redis}
     * @param config   its config
     * @param keys     each key now
     * @param granted  acquisitions granted so far
     * @param rejected {@code tryAcquire} calls that found no room so far
     * @param timedOut acquisitions that timed out so far
     * @param waiting  acquirers waiting now
     * @param refunded units refunded by settlements so far
     * @param charged  units charged by settlements so far
     * @param error    why the usage could not be read (a distributed backend unreachable), else null
     */
    public record SetReport(String name, String backend, Map<String, String> config, Map<String, KeyReport> keys,
            long granted, long rejected, long timedOut, int waiting, double refunded, double charged,
            String error) {

        static SetReport of(LimitSet set) {
            LimitStats stats;
            try {
                stats = set.stats();
            } catch (RuntimeException e) {
                return new SetReport(set.name(), set.backend().name(), set.config(), Map.of(), 0, 0, 0, 0, 0, 0,
                        String.valueOf(e.getMessage()));
            }
            Map<String, KeyReport> keys = new LinkedHashMap<>();
            stats.keys().forEach((key, k) -> keys.put(key, KeyReport.of(k)));
            return new SetReport(set.name(), set.backend().name(), set.config(), keys, stats.granted(),
                    stats.rejected(), stats.timedOut(), stats.waiting(), stats.refunded(), stats.charged(), null);
        }
    }

    /**
     * One key of a set now.
     *
     * @param type      {@code rate}, {@code call} or {@code resource}
     * @param capacity  units per window, or held at once
     * @param window    the window (ISO-8601), null for a resource
     * @param algorithm the rate algorithm, null for a resource
     * @param available units that could be granted now (negative after overuse)
     * @param inUse     units counted against the limit now (permits held, for a resource)
     * @param waiting   acquirers waiting for this key now
     * @param refunded  units refunded by settlements so far
     * @param charged   units charged by settlements so far
     */
    public record KeyReport(String type, double capacity, String window, String algorithm, double available,
            double inUse, int waiting, double refunded, double charged) {

        static KeyReport of(LimitStats.KeyStats k) {
            Limit limit = k.limit();
            return switch (limit) {
                case RateLimit rate -> new KeyReport("rate", k.capacity(), rate.window().toString(),
                        rate.algorithm().name(), k.available(), k.inUse(), k.waiting(), k.refunded(), k.charged());
                case CallLimit call -> new KeyReport("call", k.capacity(), call.window().toString(),
                        call.algorithm().name(), k.available(), k.inUse(), k.waiting(), k.refunded(), k.charged());
                default -> new KeyReport("resource", k.capacity(), null, null, k.available(), k.inUse(), k.waiting(),
                        k.refunded(), k.charged());
            };
        }
    }

    /**
     * One limit pool now.
     *
     * @param balancing  its balancing strategy
     * @param sets       each set of the pool by its name, with its usage and how many grants it served
     * @param dispatched grants the pool handed out so far
     * @param failovers  grants served by another set than the preferred one so far
     * @param timedOut   acquisitions on the pool that timed out so far
     * @param rejected   {@code tryAcquire} calls on the pool that found no set with room so far
     */
    public record PoolReport(String balancing, List<PoolSetReport> sets, long dispatched, long failovers,
            long timedOut, long rejected) {

        static PoolReport of(LimitPool pool) {
            LimitPoolStats stats = pool.poolStats();
            List<LimitSet> sets = pool.sets();
            List<PoolSetReport> reports = new ArrayList<>();
            for (int i = 0; i < sets.size(); i++) {
                reports.add(new PoolSetReport(SetReport.of(sets.get(i)), stats.sets().get(i).dispatched()));
            }
            return new PoolReport(stats.balancing().name(), reports, stats.dispatched(), stats.failovers(),
                    stats.timedOut(), stats.rejected());
        }
    }

    /**
     * One set of a pool.
     *
     * @param set        the set now
     * @param dispatched grants it served through the pool so far
     */
    public record PoolSetReport(SetReport set, long dispatched) {
    }

    /**
     * One worker pool or task executor now.
     *
     * @param name      its name
     * @param mode      its mode
     * @param alive     worker instances alive now
     * @param active    calls running now
     * @param queued    calls accepted but not started yet
     * @param total     calls given to the pool so far
     * @param completed calls that ended so far
     * @param failed    calls that ended with an exception so far
     */
    public record WorkerPoolReport(String name, String mode, int alive, int active, int queued, long total,
            long completed, long failed) {

        static WorkerPoolReport of(Supplier<PoolStats> read) {
            PoolStats s = read.get();
            return new WorkerPoolReport(s.name(), s.mode().name(), s.alive(), s.active(), s.queued(), s.total(),
                    s.completed(), s.failed());
        }
    }
}
