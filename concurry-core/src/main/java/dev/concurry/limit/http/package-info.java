/**
 * Limits that speak HTTP, both ways (SPEC F1–F4, L25), with no dependency beyond the JDK.
 *
 * <ul>
 *   <li>Client side: {@link dev.concurry.limit.http.ProviderHeaders} reads what a provider says in its
 *       response headers (OpenAI, Anthropic, IETF {@code RateLimit}, GitHub-style, {@code Retry-After})
 *       into a {@link dev.concurry.limit.ProviderReport} that a set then honours
 *       ({@link dev.concurry.limit.Acquisition#observe}).</li>
 *   <li>Server side: {@link dev.concurry.limit.http.RateLimitHeaders} turns a grant or a
 *       {@link dev.concurry.limit.Refusal} into {@code Retry-After} and the IETF fields, and
 *       {@link dev.concurry.limit.http.LimitFilter} protects a {@code com.sun.net.httpserver} context,
 *       answering 429 with them.</li>
 * </ul>
 *
 * <pre>{@code
 * try (Acquisition acq = limits.acquire(Request.of("requests", 1).and("tokens", 2_000))) {
 *     HttpResponse<String> r = http.send(request, BodyHandlers.ofString());
 *     acq.observe(ProviderHeaders.openAi(r.statusCode(), r.headers().map()));
 * }
 * }</pre>
 */
package dev.concurry.limit.http;
