package dev.concurry.bench;

import org.openjdk.jmh.annotations.Threads;

/** SPEC N1 with two threads on one limiter: the contended cost (ns per operation per thread). */
@Threads(2)
public class N1TwoThreads extends SingleLimitBench {
}
