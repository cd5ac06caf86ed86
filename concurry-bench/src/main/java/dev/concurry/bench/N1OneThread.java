package dev.concurry.bench;

import org.openjdk.jmh.annotations.Threads;

/** SPEC N1 on one thread: the uncontended cost. */
@Threads(1)
public class N1OneThread extends SingleLimitBench {
}
