package dev.concurry.bench;

import org.openjdk.jmh.annotations.Threads;

/** SPEC N2 with two threads on the same limits (ns per operation per thread). */
@Threads(2)
public class N2TwoThreads extends ThreeLimitsBench {
}
