package dev.concurry.limit.spi;

import dev.concurry.limit.Refusal;
import dev.concurry.limit.Request;

/**
 * What a {@code LimitPool} asks a member set without taking anything: how much room a request would
 * leave (to choose a set, SPEC L22) and, when it times out, why the set could not grant it (SPEC L25).
 * Every set the core builds answers without a round trip; a {@code LimitSet} of your own may implement
 * it too, else the pool reads its {@code stats()}.
 */
public interface Probe {

    /**
     * The smallest fraction of capacity left once {@code request} would be granted, over the limits it
     * takes ({@code 1} when none, or when unknown); negative when it cannot be granted now;
     * {@link Double#NEGATIVE_INFINITY} when an acquirer already waits for one of its keys. Only a hint:
     * the set's own {@code tryAcquire} decides.
     *
     * @throws IllegalArgumentException if the set could never grant {@code request}
     */
    double headroom(Request request);

    /**
     * Why {@code request} could not be granted now (which keys are short, when it could be), or empty
     * if it could. Takes nothing; a remote set answers from what its last call reported.
     *
     * @throws IllegalArgumentException if the set could never grant {@code request}
     */
    java.util.Optional<Refusal> explain(Request request);
}
