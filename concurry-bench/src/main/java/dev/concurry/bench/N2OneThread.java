package dev.concurry.bench;

import org.openjdk.jmh.annotations.Threads;

/** SPEC N2 on one thread. */
@Threads(1)
public class N2OneThread extends ThreeLimitsBench {
}
