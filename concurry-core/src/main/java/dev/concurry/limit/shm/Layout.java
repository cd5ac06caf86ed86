package dev.concurry.limit.shm;

import dev.concurry.limit.CallLimit;
import dev.concurry.limit.Limit;
import dev.concurry.limit.RateLimit;
import dev.concurry.limit.ResourceLimit;
import dev.concurry.limit.spi.SetAlgorithms;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Where things are in the file of a set with these limits (see {@link SharedFile} for the header).
 * The state words are those of {@link SetAlgorithms} with the holder table and the queue of tickets
 * between the sequence word and the limits; they are split into regions (the sequence word, the holder
 * table, the queue, then each limit), each with a version, so that a JVM reloads only what another one
 * changed.
 */
final class Layout {
    /** Slots of the holder table: live processes that may hold resource permits at once. */
    static final int SLOTS = 128;
    static final int SEQUENCE_REGION = 0;
    static final int HOLDERS_REGION = 1;
    static final int QUEUE_REGION = 2;

    final String description;
    final long signature;
    final int resources;
    /** Per limit, its index among resource limits, or -1. */
    final int[] resourceIndex;
    /** Per resource index, the limit. */
    final int[] resourceLimits;
    /** Words of one holder slot: pid, process start stamp, permits held of each resource limit. */
    final int slotWords;
    final int holdersBase;
    final Tickets tickets;
    final SetAlgorithms algorithms;
    final int words;
    final int regions;
    /** Start of each region in the state words, plus the end. */
    final int[] regionStart;
    final int descriptionBytes;
    final int versionsOffset;
    final int wordsOffset;
    final int logOffset;
    final int logCapacity;
    final long size;

    Layout(List<Limit> limits) {
        StringBuilder d = new StringBuilder();
        List<Integer> res = new ArrayList<>();
        resourceIndex = new int[limits.size()];
        for (int i = 0; i < limits.size(); i++) {
            Limit limit = limits.get(i);
            d.append(i == 0 ? "[" : ", ").append(describe(limit));
            resourceIndex[i] = -1;
            if (limit instanceof ResourceLimit) {
                resourceIndex[i] = res.size();
                res.add(i);
            }
        }
        description = d.append(']').toString();
        signature = SharedFile.fnv64(description);
        resources = res.size();
        resourceLimits = res.stream().mapToInt(Integer::intValue).toArray();
        slotWords = 2 + resources;
        holdersBase = 1;
        int queueBase = holdersBase + (resources > 0 ? SLOTS * slotWords : 0);
        tickets = new Tickets(queueBase, limits);
        int limitsBase = queueBase + tickets.words;
        algorithms = new SetAlgorithms(limits, limitsBase);
        regions = limitRegion(limits.size());
        regionStart = new int[regions + 1];
        regionStart[SEQUENCE_REGION] = 0;
        regionStart[HOLDERS_REGION] = holdersBase;
        regionStart[QUEUE_REGION] = queueBase;
        regionStart[limitRegion(0)] = limitsBase;
        for (int i = 0; i < limits.size(); i++) {
            regionStart[limitRegion(i) + 1] = algorithms.offset(i) + algorithms.size(i);
        }
        words = algorithms.stateSize();
        descriptionBytes = description.getBytes(StandardCharsets.UTF_8).length;
        versionsOffset = SharedFile.HEADER + (int) align8(descriptionBytes);
        wordsOffset = versionsOffset + 8 * regions;
        logOffset = wordsOffset + 8 * words;
        logCapacity = words + regions + 3;
        size = logOffset + 16L * logCapacity;
        if (size > Integer.MAX_VALUE - 4096) {
            throw new IllegalArgumentException("the limits " + description + " need a " + size
                    + "-byte shared-memory file, more than the 2 GB one mapping can hold");
        }
    }

    /** The region of limit {@code i}. */
    static int limitRegion(int i) {
        return 3 + i;
    }

    private static long align8(long n) {
        return (n + 7) & ~7L;
    }

    private static String describe(Limit limit) {
        return switch (limit) {
            case RateLimit r -> "RateLimit(" + r.key() + ", " + r.capacity() + " per " + r.window().toNanos()
                    + " ns, " + r.algorithm() + ")";
            case CallLimit c -> "CallLimit(" + c.key() + ", " + c.capacity() + " per " + c.window().toNanos()
                    + " ns, " + c.algorithm() + ")";
            case ResourceLimit r -> "ResourceLimit(" + r.key() + ", " + r.capacity() + ")";
        };
    }
}
