package dev.concurry.limit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RequestCacheTest {

    @Test
    void L16_a_request_stays_prepared_for_each_set_of_a_small_pool() {
        List<LimitSet> sets = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            sets.add(LimitSet.builder().add(RateLimit.of("tpm", 1000, Duration.ofMinutes(1))).build());
        }
        Request request = Request.of("tpm", 1);
        List<Object> prepared = new ArrayList<>();
        for (LimitSet set : sets) {
            set.tryAcquire(request).orElseThrow().close();
            prepared.add(request.cached(set.limits()));
        }
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < sets.size(); i++) {
                sets.get(i).tryAcquire(request).orElseThrow().close();
                assertThat(request.cached(sets.get(i).limits())).as("set %d", i).isNotNull().isSameAs(prepared.get(i));
            }
        }
    }

    @Test
    void the_oldest_owner_is_evicted_beyond_four() {
        Request request = Request.of("k", 1);
        Object[] owners = {new Object(), new Object(), new Object(), new Object(), new Object()};
        for (Object owner : owners) {
            request.cache(owner, owner.toString());
        }
        assertThat(request.cached(owners[0])).isNull();
        for (int i = 1; i < owners.length; i++) {
            assertThat(request.cached(owners[i])).isEqualTo(owners[i].toString());
        }
    }
}
