package dev.concurry.limit.spi;

import dev.concurry.limit.Limit;
import java.util.List;
import java.util.Map;

/**
 * What a backend builds a set's store from: validated, immutable, serializable (a process worker
 * re-creates a set from it in its child JVM).
 *
 * @param name   the set's name (backends that share state across processes use it as the identity)
 * @param limits the limits, keys unique, at least one
 * @param config metadata returned by {@code Acquisition.config()}
 */
public record LimitSetDefinition(String name, List<Limit> limits, Map<String, String> config)
        implements
            java.io.Serializable {
    public LimitSetDefinition {
        limits = List.copyOf(limits);
        config = Map.copyOf(config);
    }
}
