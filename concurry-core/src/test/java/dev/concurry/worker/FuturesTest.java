package dev.concurry.worker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** Futures helpers (SPEC W10). */
class FuturesTest {

    @Test
    void w10_gatherReturnsResultsInOrderWhateverTheCompletionOrder() {
        CompletableFuture<String> a = new CompletableFuture<>();
        CompletableFuture<String> b = new CompletableFuture<>();
        CompletableFuture<String> c = new CompletableFuture<>();
        c.complete("c");
        b.complete("b");
        a.complete("a");
        assertThat(Futures.gather(List.of(a, b, c))).containsExactly("a", "b", "c");
        assertThat(Futures.gather(List.<CompletableFuture<String>>of())).isEmpty();
    }

    @Test
    void w10_gatherFailsFastWithTheOriginalException() {
        CompletableFuture<String> pending = new CompletableFuture<>();
        CompletableFuture<String> failed = CompletableFuture.failedFuture(new IllegalStateException("boom"));
        assertThatThrownBy(() -> Futures.gather(List.of(pending, failed)))
                .isExactlyInstanceOf(IllegalStateException.class).hasMessage("boom");
        CompletableFuture<String> checked = CompletableFuture.failedFuture(new IOException("io"));
        assertThatThrownBy(() -> Futures.gather(List.of(checked)))
                .isInstanceOf(CallFailedException.class).cause().isInstanceOf(IOException.class);
        CompletableFuture<String> cancelled = new CompletableFuture<>();
        cancelled.cancel(false);
        assertThatThrownBy(() -> Futures.gather(List.of(cancelled))).isInstanceOf(CancellationException.class);
        assertThat(pending).isNotDone(); // gather cancels nothing
    }

    @Test
    void w10_gatherTimesOutWithACountOfWhatIsDone() {
        CompletableFuture<String> done = CompletableFuture.completedFuture("x");
        CompletableFuture<String> never = new CompletableFuture<>();
        assertThatThrownBy(() -> Futures.gather(List.of(done, never), Duration.ofMillis(20)))
                .isInstanceOf(WaitTimeoutException.class).hasMessageContaining("1 of 2");
    }

    @Test
    void w10_gatherByKeyKeepsTheMapOrder() {
        Map<String, CompletableFuture<Integer>> byKey = new LinkedHashMap<>();
        byKey.put("z", CompletableFuture.completedFuture(26));
        byKey.put("a", CompletableFuture.completedFuture(1));
        assertThat(Futures.gather(byKey)).containsExactly(Map.entry("z", 26), Map.entry("a", 1));
    }

    @Test
    void w10_waitModes() {
        CompletableFuture<String> done = CompletableFuture.completedFuture("x");
        CompletableFuture<String> failed = CompletableFuture.failedFuture(new IllegalStateException());
        CompletableFuture<String> never = new CompletableFuture<>();

        WaitResult<CompletableFuture<String>> first = Futures.wait(List.of(never, done), WaitMode.FIRST_COMPLETED,
                Duration.ofSeconds(10));
        assertThat(first.done()).containsExactly(done);
        assertThat(first.notDone()).containsExactly(never);

        WaitResult<CompletableFuture<String>> exception = Futures.wait(List.of(done, failed, never),
                WaitMode.FIRST_EXCEPTION, Duration.ofSeconds(10));
        assertThat(exception.done()).containsExactly(done, failed);

        WaitResult<CompletableFuture<String>> all = Futures.wait(List.of(done, never), WaitMode.ALL_COMPLETED,
                Duration.ofMillis(20));
        assertThat(all.allDone()).isFalse();
        assertThat(all.notDone()).containsExactly(never);

        never.complete("late");
        assertThat(Futures.wait(List.of(done, failed, never), WaitMode.ALL_COMPLETED).allDone()).isTrue();
    }

    @Test
    void w10_asCompletedYieldsInCompletionOrder() throws Exception {
        CompletableFuture<Integer> a = new CompletableFuture<>();
        CompletableFuture<Integer> b = new CompletableFuture<>();
        CompletableFuture<Integer> c = new CompletableFuture<>();
        var inCompletionOrder = Futures.asCompleted(List.of(a, b, c)); // listens from here on
        Thread completer = Thread.ofPlatform().start(() -> {
            c.complete(3);
            a.complete(1);
            b.complete(2);
        });
        List<Integer> order = inCompletionOrder.map(CompletableFuture::join).toList();
        completer.join();
        assertThat(order).containsExactly(3, 1, 2);
    }
}
