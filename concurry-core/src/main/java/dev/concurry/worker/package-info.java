/**
 * Workers (SPEC section 2): plain Java classes whose methods run in a chosen
 * {@link dev.concurry.worker.Mode} — on the caller, a platform thread, virtual threads, a child JVM, a
 * cluster member ({@link dev.concurry.worker.WorkerCluster}, implemented by a cluster module) —
 * behind a {@link dev.concurry.worker.WorkerPool} handle that returns futures, sharing limits
 * ({@link dev.concurry.worker.Worker#limits()}), with retries and load balancing;
 * {@link dev.concurry.worker.TaskExecutor} runs plain functions the same way, and
 * {@link dev.concurry.worker.Futures} gathers results.
 */
package dev.concurry.worker;
