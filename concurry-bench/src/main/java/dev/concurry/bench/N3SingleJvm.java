package dev.concurry.bench;

/** SPEC N3 for comparison: the shared-memory set used by this JVM alone (no second process). */
public class N3SingleJvm extends SharedMemoryBench {
    @Override
    boolean twoJvms() {
        return false;
    }
}
