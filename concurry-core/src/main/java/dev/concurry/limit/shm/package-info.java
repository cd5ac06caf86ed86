/**
 * The shared-memory backend: a set's state in a memory-mapped file shared by the JVMs of one host,
 * with no server (SPEC L17). {@link dev.concurry.limit.shm.SharedMemoryBackend} is the only public
 * type; users reach it through {@code Backends.sharedMemory(...)}. Inside: the file format, lock word
 * and redo log ({@code SharedFile}, {@code Layout}); a JVM's copy of the state and the transaction
 * that reloads, checks, repairs and publishes it ({@code LocalCopy}); who owns what, by pid and start stamp
 * ({@code Incarnation}); the holder table that gives back a dead process's permits ({@code Holders});
 * the queue of waiters across JVMs ({@code Tickets}); and the store the engine calls
 * ({@code SharedMemoryStore}, whose wake-ups run off the shared timer thread: {@code OffTimerClock}).
 */
package dev.concurry.limit.shm;
