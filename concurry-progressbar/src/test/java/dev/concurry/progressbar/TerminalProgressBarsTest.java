package dev.concurry.progressbar;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.progress.ProgressBarProvider;
import dev.concurry.progress.ProgressTracker;
import java.util.List;
import java.util.ServiceLoader;
import java.util.concurrent.CopyOnWriteArrayList;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import org.junit.jupiter.api.Test;

class TerminalProgressBarsTest {

    @Test
    void P1_is_found_by_the_service_loader() {
        assertThat(ServiceLoader.load(ProgressBarProvider.class))
                .anyMatch(p -> p instanceof TerminalProgressBars);
    }

    @Test
    void P1_renders_done_over_total_and_ends_in_the_success_or_failure_state() {
        List<String> frames = new CopyOnWriteArrayList<>();
        try (ProgressTracker bar = TerminalProgressBars.open("fetching", 10, new DelegatingProgressBarConsumer(frames::add))) {
            bar.step(4);
            bar.step(6);
        }
        assertThat(frames.getLast()).contains("fetching", "100%", "10/10", "done");

        frames.clear();
        try (ProgressTracker bar = TerminalProgressBars.open("importing", 10, new DelegatingProgressBarConsumer(frames::add))) {
            bar.step(3);
            bar.fail();
        }
        assertThat(frames.getLast()).contains("importing", "3/10", "FAILED");
    }
}
