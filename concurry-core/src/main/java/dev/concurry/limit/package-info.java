/**
 * Limits (SPEC section 1): what to limit, how to enforce it, how to spread it over several quotas.
 *
 * <ul>
 *   <li>Specifications (immutable values): {@link dev.concurry.limit.RateLimit},
 *       {@link dev.concurry.limit.CallLimit}, {@link dev.concurry.limit.ResourceLimit}, enforced by one of
 *       five {@link dev.concurry.limit.RateAlgorithm}s.</li>
 *   <li>The enforcer: {@link dev.concurry.limit.LimitSet} takes every key of a
 *       {@link dev.concurry.limit.Request} or none, and hands out an {@link dev.concurry.limit.Acquisition}
 *       that settles actual usage on close. Where its state lives is its {@link dev.concurry.limit.LimitBackend}
 *       ({@link dev.concurry.limit.Backends#inMemory()}, {@link dev.concurry.limit.Backends#sharedMemory()},
 *       Redis, a Hazelcast cluster).</li>
 *   <li>The distributor: {@link dev.concurry.limit.LimitPool} spreads acquisitions over several sets
 *       (regions, accounts), with failover.</li>
 *   <li>Per key: {@link dev.concurry.limit.KeyedLimits} applies one template of limits to each of any
 *       number of keys (customers, tenants, IP addresses), memory bounded.</li>
 *   <li>Listening to the provider: a {@link dev.concurry.limit.ProviderReport} (read from response
 *       headers by {@code dev.concurry.limit.http.ProviderHeaders}) given to
 *       {@link dev.concurry.limit.LimitSet#observe} or {@link dev.concurry.limit.Acquisition#observe}
 *       keeps the set within what the provider says remains, and pauses it on a 429.</li>
 * </ul>
 *
 * <pre>{@code
 * LimitSet limits = LimitSet.builder()
 *         .add(RateLimit.of("requests", 500, Duration.ofMinutes(1)))
 *         .add(RateLimit.of("tokens", 10_000, Duration.ofMinutes(1)))
 *         .build();
 * try (Acquisition acq = limits.acquire(Request.of("requests", 1).and("tokens", 160))) {
 *     acq.update("tokens", callModel().totalTokens());
 * }
 * }</pre>
 *
 * <p>Backend authors look at {@code dev.concurry.limit.spi}; nothing there is needed to use limits.
 */
package dev.concurry.limit;
