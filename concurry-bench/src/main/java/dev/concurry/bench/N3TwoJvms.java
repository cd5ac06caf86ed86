package dev.concurry.bench;

/** SPEC N3: the shared-memory set while a second JVM ({@link SharedMemoryHammer}) hammers the same file. */
public class N3TwoJvms extends SharedMemoryBench {
    @Override
    boolean twoJvms() {
        return true;
    }
}
