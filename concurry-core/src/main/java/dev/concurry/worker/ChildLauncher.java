package dev.concurry.worker;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Starts the child JVMs of one process pool (SPEC W8): the serialized factory and limits, the filter
 * and the JVM options are fixed when the pool starts; {@link #launchAll(int, int)} starts several in
 * parallel (JVM start-up takes a fraction of a second each).
 */
final class ChildLauncher extends RemoteLauncher {
    private final List<String> jvmOptions;

    ChildLauncher(PoolConfig config, Class<?> workerType, WorkerFactory<?> factory, ChildLimits limits) {
        super(config, workerType, factory, limits);
        this.jvmOptions = config.jvmOptions();
    }

    @Override
    List<ChildProcess> launchAll(int first, int count) throws InterruptedException {
        List<byte[]> payloads = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            payloads.add(initPayload(first + i));
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
                children.get(i).init(payloads.get(i), START_TIMEOUT, loader, filter);
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
