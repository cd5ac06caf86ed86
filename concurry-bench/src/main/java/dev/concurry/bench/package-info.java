/**
 * JMH benchmarks of SPEC section 5, each run side by side with the JVM peers in one invocation
 * ({@code bench/run.sh}); results and ratios are in BENCHMARKS.md.
 */
package dev.concurry.bench;
