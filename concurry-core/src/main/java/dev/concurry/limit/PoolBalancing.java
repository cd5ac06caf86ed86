package dev.concurry.limit;

/**
 * How a {@link LimitPool} picks the set for an acquisition (SPEC L22). Every strategy only picks the
 * <em>preferred</em> set; all of them fail over: when the preferred set cannot grant now, the other
 * eligible sets are tried at once (without waiting), and a blocking or async acquisition that no set
 * can grant now is granted by whichever set can grant first.
 *
 * <pre>{@code
 * LimitPool keys = LimitPool.builder()
 *         .add(keyA).add(keyB).add(keyC)
 *         .balancing(PoolBalancing.ROUND_ROBIN)
 *         .build();
 * }</pre>
 */
public enum PoolBalancing {

    /**
     * The default: prefer the set with the most headroom for the request (the smallest fraction of
     * capacity left, over the keys the request takes, is the largest), so load spreads in proportion
     * to what each quota has left; ties rotate. The other sets are tried in order of headroom.
     */
    CAPACITY_AWARE,

    /**
     * Prefer the eligible sets in turn (exact alternation while every set can grant); when the
     * preferred set cannot grant now, the next ones in the rotation are tried. The rotation advances
     * by one per acquisition whichever set served it, so a set that recovers gets its turn back.
     */
    ROUND_ROBIN,

    /**
     * Prefer a uniformly random eligible set; when it cannot grant now, the next ones (cyclically
     * after it) are tried.
     */
    RANDOM
}
