package dev.concurry.spring;

import dev.concurry.limit.LimitSet;
import java.util.LinkedHashMap;
import java.util.Map;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.boot.actuate.health.Health;
import org.springframework.boot.actuate.health.HealthIndicator;

/**
 * The health contributor {@code concurry}: DOWN when the backend of a distributed limit set (Redis,
 * Hazelcast) cannot be reached, UP otherwise. A saturated limit is healthy: it is doing its job.
 * Each distributed set's usage is read once per check (one round trip); sets in this JVM or in a file
 * of this host cannot be unreachable and are only counted.
 *
 * <pre>{@code
 * $ curl localhost:8080/actuator/health
 * {"status":"DOWN","components":{"concurry":{"status":"DOWN","details":{"openai":"redis: unreachable: ..."}}}}
 * }</pre>
 */
final class ConcurryHealthIndicator implements HealthIndicator {
    private final ContextLimiters limiters;

    ConcurryHealthIndicator(ListableBeanFactory beans) {
        this.limiters = new ContextLimiters(beans);
    }

    @Override
    public Health health() {
        Map<String, Object> details = new LinkedHashMap<>();
        boolean down = false;
        int local = 0;
        for (Map.Entry<String, LimitSet> e : limiters.sets().entrySet()) {
            LimitSet set = e.getValue();
            if (!ContextLimiters.distributed(set)) {
                local++;
                continue;
            }
            try {
                set.stats();
                details.put(e.getKey(), set.backend().name() + ": reachable");
            } catch (RuntimeException failure) {
                down = true;
                details.put(e.getKey(), set.backend().name() + ": unreachable: " + failure.getMessage());
            }
        }
        details.put("localSets", local);
        return (down ? Health.down() : Health.up()).withDetails(details).build();
    }
}
