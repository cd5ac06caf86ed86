package dev.concurry.spring;

import java.util.Locale;

/**
 * The kind of a limit declared in properties ({@code concurry.limit-sets.<name>.limits[i].type}).
 *
 * <pre>{@code
 * - { type: resource, key: db_conn, capacity: 5 }
 * }</pre>
 */
public enum LimitType {
    /** {@code RateLimit}: units of a key per window. The default. */
    RATE,
    /** {@code CallLimit}: calls per window, counted once per acquisition under the key {@code call_count}. */
    CALL,
    /** {@code ResourceLimit}: units of a key held at once, given back when the acquisition closes. */
    RESOURCE;

    /** The name used in properties, such as {@code rate}. */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }
}
