package dev.concurry.limit.spi;

import java.time.Duration;

/**
 * The checks of the options that distributed backends share, so that each refuses the same bad value with
 * the same message. A backend's builder calls them:
 *
 * <pre>{@code
 * public Builder leaseDuration(Duration lease) {
 *     this.lease = BackendOptions.leaseDuration(lease);
 *     return this;
 * }
 * }</pre>
 */
public final class BackendOptions {
    private static final Duration MIN_LEASE = Duration.ofMillis(100);
    private static final Duration MAX_NANOS = Duration.ofNanos(Long.MAX_VALUE);

    private BackendOptions() {
    }

    /**
     * {@code lease}, how long a resource permit outlives a holder that stopped renewing it.
     *
     * @throws IllegalArgumentException if null, under 100 ms, or over {@code Long.MAX_VALUE} nanoseconds
     */
    public static Duration leaseDuration(Duration lease) {
        if (lease == null || lease.compareTo(MIN_LEASE) < 0 || lease.compareTo(MAX_NANOS) > 0) {
            throw new IllegalArgumentException("leaseDuration must be between 100 ms and " + MAX_NANOS
                    + " (about 292 years, the most nanoseconds a long holds), got: " + lease);
        }
        return lease;
    }

    /**
     * {@code timeout}, how long a call to the store may take.
     *
     * @throws IllegalArgumentException if null, zero or negative
     */
    public static Duration commandTimeout(Duration timeout) {
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("commandTimeout must be positive, got: " + timeout);
        }
        return timeout;
    }
}
