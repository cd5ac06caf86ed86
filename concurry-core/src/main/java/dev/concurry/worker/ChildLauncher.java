package dev.concurry.worker;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts the child JVMs of one process pool (SPEC W8): the serialized factory and limits, the filter
 * and the JVM options are fixed when the pool starts; {@link #launch(int)} starts and initialises
 * one child, {@link #launchAll(int)} several in parallel (JVM start-up takes a fraction of a second
 * each).
 */
final class ChildLauncher {
    /** How long a child may take to start and build its worker. */
    static final Duration START_TIMEOUT = Duration.ofMinutes(2);

    final String poolName;
    final String workerType;
    final ClassLoader loader;
    final ProcessProtocol.Filter.Config filter;
    private final String pattern;
    private final List<String> jvmOptions;
    private final WorkerFactory<?> factory;
    private final ChildLimits limits;

    ChildLauncher(PoolConfig config, Class<?> workerType, WorkerFactory<?> factory, ChildLimits limits) {
        this.poolName = config.name();
        this.workerType = workerType.getName();
        this.loader = workerType.getClassLoader() != null ? workerType.getClassLoader() : ClassLoader.getSystemClassLoader();
        this.pattern = config.serializationFilter();
        this.filter = ProcessProtocol.Filter.Config.of(this.workerType, pattern);
        this.jvmOptions = config.jvmOptions();
        this.factory = factory;
        this.limits = limits;
    }

    /** The serialized INIT payload of worker {@code index}; refuses a factory that cannot be sent. */
    private byte[] initSpec(int index) {
        try {
            return ProcessProtocol.serialize(new ChildInit(factory, limits, index));
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("the worker factory of a Mode.PROCESS pool must be serializable"
                    + " with everything it captures (a lambda or constructor reference capturing only"
                    + " serializable values): " + e, e);
        }
    }

    ChildProcess launch(int index) throws InterruptedException {
        return launchAll(index, 1).get(0);
    }

    /** Starts {@code count} children numbered from {@code first}; on any failure none is left running. */
    List<ChildProcess> launchAll(int first, int count) throws InterruptedException {
        List<byte[]> specs = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            specs.add(initSpec(first + i));
        }
        List<ChildProcess> children = new ArrayList<>(count);
        boolean ok = false;
        try {
            for (int i = 0; i < count; i++) {
                try {
                    children.add(ChildProcess.start(poolName, first + i, jvmOptions));
                } catch (IOException e) {
                    throw new IllegalStateException("cannot start a worker process: " + e, e);
                }
            }
            for (int i = 0; i < count; i++) {
                children.get(i).init(workerType, pattern, specs.get(i), START_TIMEOUT, loader, filter);
            }
            ok = true;
            return children;
        } finally {
            if (!ok) {
                children.forEach(ChildProcess::destroy);
            }
        }
    }
}
