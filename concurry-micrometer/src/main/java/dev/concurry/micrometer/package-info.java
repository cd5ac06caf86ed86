/**
 * Micrometer meters for Concurry's limit sets, limit pools and worker pools (SPEC P2); the front door
 * is {@link dev.concurry.micrometer.ConcurryMetrics}.
 *
 * <pre>{@code
 * ConcurryMetrics.of(limits).bindTo(registry);
 * }</pre>
 */
package dev.concurry.micrometer;
