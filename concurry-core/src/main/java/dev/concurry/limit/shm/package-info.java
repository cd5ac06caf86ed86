/**
 * The shared-memory backend: a set's state in a memory-mapped file shared by the JVMs of one host,
 * with no server (SPEC L17). {@link dev.concurry.limit.shm.SharedMemoryBackend} is the only public
 * type; users reach it through {@code Backends.sharedMemory(...)}. Inside: the file format, lock word
 * and redo log ({@code SharedFile}, {@code Layout}), the holder table that gives back a dead process's
 * permits ({@code Holders}), and the store the engine calls ({@code SharedMemoryStore}).
 */
package dev.concurry.limit.shm;
