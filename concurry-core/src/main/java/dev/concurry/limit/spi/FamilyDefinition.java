package dev.concurry.limit.spi;

import dev.concurry.limit.Limit;
import java.util.List;
import java.util.Objects;

/**
 * What a backend builds a keyed family's stores from (SPEC L24): validated, immutable.
 *
 * @param name  the family's name; backends shared by several JVMs use it as the family's identity
 *              (every JVM that builds a family of that name shares each key's quota)
 * @param tiers the limits of each tier: the template first, then each override in the order they were
 *              given. Every key's set has one of these lists, the very same instance, as its
 *              {@link LimitSetDefinition#limits()}, so a store may prepare per tier what it needs
 *              (algorithms, a script's arguments) and look it up by identity.
 */
public record FamilyDefinition(String name, List<List<Limit>> tiers) {
    public FamilyDefinition {
        Objects.requireNonNull(name, "name");
        tiers = List.copyOf(tiers);
        if (tiers.isEmpty()) {
            throw new IllegalArgumentException("a family has at least one tier (its template)");
        }
    }
}
