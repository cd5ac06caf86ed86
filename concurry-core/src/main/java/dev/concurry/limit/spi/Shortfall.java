package dev.concurry.limit.spi;

/**
 * What a {@link LocalStore} says about a request it would refuse now ({@link LocalStore#explain}).
 *
 * @param shortOf   the limits it is short of (bit i for limit i), 0 when it could be granted now
 * @param waitNanos nanoseconds until it could be granted if nothing else changed; {@code +Infinity}
 *                  when only a release can free it
 * @param available per limit the request takes (its positions), the units available now
 */
public record Shortfall(long shortOf, double waitNanos, double[] available) {
}
