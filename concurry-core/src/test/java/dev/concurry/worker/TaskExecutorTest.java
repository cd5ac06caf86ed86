package dev.concurry.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.concurry.limit.Acquisition;
import dev.concurry.limit.LimitSet;
import dev.concurry.limit.Limiter;
import dev.concurry.limit.Request;
import dev.concurry.limit.ResourceLimit;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Task executors (SPEC W9). */
class TaskExecutorTest {

    private static String fetch(String url) throws IOException {
        if (url.startsWith("bad")) {
            throw new IOException("cannot fetch " + url);
        }
        return "page:" + url;
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"SYNC", "THREAD", "VIRTUAL"})
    void w9_submitAndMapRunPlainFunctions(Mode mode) {
        try (TaskExecutor tasks = TaskExecutor.options().mode(mode).maxWorkers(4).init()) {
            assertThat(tasks.submit(() -> 6 * 7).join()).isEqualTo(42);
            List<String> pages = Futures.gather(tasks.map(List.of("a", "b", "c"), TaskExecutorTest::fetch));
            assertThat(pages).containsExactly("page:a", "page:b", "page:c");
            assertThat(tasks.map(List.<String>of(), TaskExecutorTest::fetch)).isEmpty();
            CompletableFuture<String> bad = tasks.submit(() -> fetch("bad-url"));
            assertThatThrownBy(bad::join).cause().isInstanceOf(IOException.class);
            assertThat(tasks.stats().total()).isEqualTo(5);
        }
    }

    @ParameterizedTest
    @EnumSource(value = Mode.class, names = {"THREAD", "VIRTUAL"})
    void w9_tasksReachTheExecutorsLimits(Mode mode) {
        try (LimitSet limits = LimitSet.builder().add(ResourceLimit.of("db_conn", 2)).build();
                TaskExecutor tasks = TaskExecutor.options().mode(mode).maxWorkers(3).limits(limits).init()) {
            CompletableFuture<Limiter> seen = tasks.submit((Limiter l) -> l);
            assertThat(seen.join()).isSameAs(limits);
            CompletableFuture<Double> held = tasks.submit((Limiter l) -> {
                try (Acquisition acq = l.acquire(Request.of("db_conn", 2))) {
                    return limits.stats().key("db_conn").inUse();
                }
            });
            assertThat(held.join()).isEqualTo(2.0);
        }
        try (TaskExecutor none = TaskExecutor.options().mode(mode).init()) {
            assertThat(none.submit((Limiter l) -> l).join()).isSameAs(LimitSet.empty());
        }
    }
}
