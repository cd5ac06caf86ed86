package dev.concurry.worker;

import java.io.Serializable;

/**
 * What a process worker's child needs to build its worker (the INIT message's payload).
 *
 * @param factory the pool's worker factory (a serializable lambda or method reference)
 * @param limits  how the child gets its limiter
 * @param index   the worker's index in the pool
 */
record ChildInit(WorkerFactory<?> factory, ChildLimits limits, int index) implements Serializable {
}
