/**
 * Time for limiters (SPEC L7): {@link dev.concurry.time.MonotonicClock} (the system's monotonic
 * clock with a timer) and {@link dev.concurry.time.ManualClock}, which tests advance by hand so that
 * every wait is exact and instant.
 */
package dev.concurry.time;
