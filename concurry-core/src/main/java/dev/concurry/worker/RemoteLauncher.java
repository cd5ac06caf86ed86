package dev.concurry.worker;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.List;

/**
 * Starts the remote workers of one pool: child JVMs ({@link ChildLauncher}) or workers on cluster
 * members ({@link ClusterLauncher}). What every worker is built from is fixed when the pool starts: the
 * worker type, the serialized factory and limits ({@link ChildInit}) and the serialization filter that
 * both sides apply (SPEC W8).
 */
abstract class RemoteLauncher {
    /** How long a worker may take to start and build its instance. */
    static final Duration START_TIMEOUT = Duration.ofMinutes(2);

    final String poolName;
    final String workerType;
    final ClassLoader loader;
    final ProcessProtocol.Filter.Config filter;
    private final String pattern;
    private final WorkerFactory<?> factory;
    private final ChildLimits limits;
    private final String modeName;

    RemoteLauncher(PoolConfig config, Class<?> workerType, WorkerFactory<?> factory, ChildLimits limits) {
        this.poolName = config.name();
        this.workerType = workerType.getName();
        this.loader = workerType.getClassLoader() != null
                ? workerType.getClassLoader()
                : ClassLoader.getSystemClassLoader();
        this.pattern = config.serializationFilter();
        this.filter = ProcessProtocol.Filter.Config.of(this.workerType, pattern);
        this.factory = factory;
        this.limits = limits;
        this.modeName = "Mode." + config.mode();
    }

    /**
     * The INIT payload of worker {@code index}: the worker type and the filter pattern (read before
     * anything is deserialized, so the other side filters with the pool's rules), then the serialized
     * {@link ChildInit}. Refuses a factory that cannot be sent.
     */
    final byte[] initPayload(int index) {
        byte[] spec;
        try {
            spec = ProcessProtocol.serialize(new ChildInit(factory, limits, index));
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("the worker factory of a " + modeName + " pool must be serializable"
                    + " with everything it captures (a lambda or constructor reference capturing only"
                    + " serializable values): " + e, e);
        }
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(spec.length + 256);
            DataOutputStream header = new DataOutputStream(bytes);
            header.writeUTF(workerType);
            header.writeUTF(pattern == null ? "" : pattern);
            header.write(spec);
            header.flush();
            return bytes.toByteArray();
        } catch (IOException impossible) {
            throw new IllegalStateException(impossible);
        }
    }

    /** Starts worker {@code index} and waits until its instance is built. */
    final WorkerEndpoint launch(int index) throws InterruptedException {
        return launchAll(index, 1).get(0);
    }

    /** Starts {@code count} workers numbered from {@code first}; on any failure none is left running. */
    abstract List<? extends WorkerEndpoint> launchAll(int first, int count) throws InterruptedException;

    /**
     * Rethrows the failure of a worker factory that ran remotely: unchecked as it is, checked wrapped in
     * {@link IllegalStateException}, as a factory run in the pool's own JVM would fail {@code init()}.
     */
    static void rethrowInitFailure(Throwable failure, String where) {
        if (failure instanceof RuntimeException r) {
            throw r;
        }
        if (failure instanceof Error e) {
            throw e;
        }
        throw new IllegalStateException("the worker factory failed in " + where + ": " + failure, failure);
    }
}
