package dev.concurry.limit.spi;

import dev.concurry.limit.Request;

/**
 * What a {@code LimitPool} asks a member set before trying it (SPEC L22): how much room a request
 * would leave. Every set the core builds answers without a round trip; a {@code LimitSet} of your own
 * may implement it too, else the pool reads its {@code stats()}.
 */
public interface Headroom {

    /**
     * The smallest fraction of capacity left once {@code request} would be granted, over the limits it
     * takes ({@code 1} when none, or when unknown); negative when it cannot be granted now;
     * {@link Double#NEGATIVE_INFINITY} when an acquirer already waits for one of its keys. Only a hint:
     * the set's own {@code tryAcquire} decides.
     *
     * @throws IllegalArgumentException if the set could never grant {@code request}
     */
    double headroom(Request request);
}
