package dev.concurry.limit;

/**
 * How a rate limit of {@code capacity} units per {@code window} is enforced (SPEC L5). With
 * r = capacity / window:
 * <ul>
 *   <li>{@link #SLIDING_WINDOW} (default): the units granted in any interval of length {@code window}
 *       never sum to more than capacity. What a provider's "500 requests per minute" means.</li>
 *   <li>{@link #TOKEN_BUCKET}: starts full, refills continuously at r; bursts up to capacity.</li>
 *   <li>{@link #GCRA}: exactly what {@code TOKEN_BUCKET} admits, stored as one number.</li>
 *   <li>{@link #LEAKY_BUCKET}: no bursts; each grant starts once everything granted before it has
 *       drained at rate r (500 per minute admits one request every 120 ms).</li>
 *   <li>{@link #FIXED_WINDOW}: a counter reset at every multiple of {@code window} since the backend's
 *       epoch; up to 2 × capacity can pass around a boundary, by design.</li>
 * </ul>
 */
public enum RateAlgorithm {
    TOKEN_BUCKET, LEAKY_BUCKET, SLIDING_WINDOW, FIXED_WINDOW, GCRA
}
