package dev.concurry.worker;

import java.util.concurrent.CompletableFuture;

/**
 * The pool's side of a worker that lives away from it: a child JVM ({@link ChildProcess}) or a worker on
 * a cluster member ({@link MemberWorker}). The slot that owns it ({@link WorkerSlot.Remote}) sends one
 * call at a time and waits for its answer.
 */
interface WorkerEndpoint {

    /** Completes when the worker is gone (its process ended, its member left), with how. */
    CompletableFuture<WorkerDeath> death();

    /**
     * Sends call {@code id}; the future completes with its {@link ProcessProtocol#RESULT} or
     * {@link ProcessProtocol#FAILURE} frame, or exceptionally with {@link WorkerDiedException} if the
     * worker is gone first.
     */
    CompletableFuture<ProcessProtocol.Frame> call(long id, byte[] payload);

    /** Asks the worker to interrupt call {@code id} (or drop it if queued); harmless if it already ended. */
    void cancel(long id);

    /** Asks the worker to finish and go away; idempotent. */
    void askToExit();

    /** Waits until the worker is gone or the deadline ({@link System#nanoTime()}). */
    boolean awaitExit(long deadlineNanos) throws InterruptedException;

    /** Removes the worker now, whatever it is doing, and waits (boundedly) for it to be gone. */
    void destroy();

    /** Names the worker in messages: "worker process 4242", "worker on member [127.0.0.1]:5701". */
    String describe();
}
