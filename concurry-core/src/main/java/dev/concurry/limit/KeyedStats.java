package dev.concurry.limit;

/**
 * A keyed family's own counters (SPEC L24); each key's set has its {@link LimitStats}
 * ({@link KeyedLimits#stats(Object)}).
 *
 * <pre>{@code
 * KeyedStats s = perCustomer.keyedStats();
 * log.info("{} customers held, {} dropped while idle", s.keys(), s.evicted());
 * }</pre>
 *
 * @param keys    keys whose state this JVM holds now
 * @param created key states created so far (a key dropped and used again is created again)
 * @param evicted key states dropped so far, each once it was idle
 * @param refused new keys refused so far because {@code maxKeys} keys were held and none was idle
 */
public record KeyedStats(long keys, long created, long evicted, long refused) {
}
