/**
 * Retries (SPEC section 3): {@link dev.concurry.retry.RetryPolicy} — attempts, which failures to retry,
 * backoff with jitter, result validators — applied to worker calls; each attempt acquires its own limits
 * and the backoff holds no thread.
 */
package dev.concurry.retry;
