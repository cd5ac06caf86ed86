/**
 * Spring Boot 3 integration: limit sets, limit pools and worker pools declared under {@code concurry.*}
 * become beans; {@link dev.concurry.spring.Limited @Limited} acquires limits around a method; the
 * actuator endpoint {@code concurry}, a health contributor and Micrometer meters come with them.
 *
 * <pre>{@code
 * concurry:
 *   limit-sets:
 *     openai:
 *       limits:
 *         - { type: rate, key: requests, capacity: 500, window: 1m }
 *         - { type: rate, key: tokens, capacity: 10000, window: 1m }
 *
 * @Limited(set = "openai", request = "requests=1, tokens=#estimate(#prompt)")
 * public Completion complete(String prompt, Acquisition acq) { ... }
 * }</pre>
 */
package dev.concurry.spring;
