package dev.concurry.limit;

/**
 * Where a {@link LimitSet} keeps its state: in this JVM ({@link Backends#inMemory()}), in a file shared
 * by several JVMs, or on a server. Backend modules implement this and pass the behaviour test kit
 * ({@code concurry-tck}).
 */
public interface LimitBackend {

    /** A short name for messages and metrics, such as {@code "in-memory"}. */
    String name();

    /**
     * Whether sets of this backend can be shared by several processes (needed by process workers). Such
     * a backend should also be {@link java.io.Serializable}: a process pool then sends each child JVM
     * the set's {@link LimitSetDefinition} and the backend, and the child calls {@link #create} to
     * re-open the same shared state (as {@link Backends#sharedMemory(java.nio.file.Path)} does).
     */
    boolean crossProcess();

    /** Builds a set enforcing {@code definition}. */
    LimitSet create(LimitSetDefinition definition);
}
