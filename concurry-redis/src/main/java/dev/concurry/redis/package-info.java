/**
 * Limit sets shared through Redis or Redis Cluster (SPEC L18): {@link dev.concurry.redis.RedisBackend}.
 * Each set is one hash (and a sorted set of leases) changed atomically by one Lua script per batch of
 * attempts; everything else is the core engine's, as for every backend.
 */
package dev.concurry.redis;
