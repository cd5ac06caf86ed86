package dev.concurry.limit;

/**
 * Where a {@link LimitSet} keeps its state: in this JVM ({@link Backends#inMemory()}), in a file shared
 * by several JVMs, or on a server. Backend modules implement this and pass the behaviour test kit
 * ({@code concurry-tck}).
 */
public interface LimitBackend {

    /** A short name for messages and metrics, such as {@code "in-memory"}. */
    String name();

    /** Whether sets of this backend can be shared by several processes (needed by process workers). */
    boolean crossProcess();

    /** Builds a set enforcing {@code definition}. */
    LimitSet create(LimitSetDefinition definition);
}
