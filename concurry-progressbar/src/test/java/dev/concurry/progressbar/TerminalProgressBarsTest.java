package dev.concurry.progressbar;

import static org.assertj.core.api.Assertions.assertThat;

import dev.concurry.progress.ProgressBarProvider;
import dev.concurry.progress.ProgressTracker;
import java.time.Duration;
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
        try (ProgressTracker bar = TerminalProgressBars.open("fetching", 10,
                new DelegatingProgressBarConsumer(frames::add))) {
            bar.step(4);
            bar.step(6);
        }
        assertThat(frames.getLast()).contains("fetching", "100%", "10/10").endsWith("/s done")
                .doesNotContain("/sdone");

        frames.clear();
        try (ProgressTracker bar = TerminalProgressBars.open("importing", 10,
                new DelegatingProgressBarConsumer(frames::add))) {
            bar.step(3);
            bar.fail();
        }
        assertThat(frames.getLast()).contains("importing", "3/10").endsWith(" FAILED");
    }

    @Test
    void P1_a_time_boxed_bar_shows_seconds_elapsed_of_its_length_and_the_steps_done_not_an_unknown_total()
            throws InterruptedException {
        List<String> frames = new CopyOnWriteArrayList<>();
        try (ProgressTracker bar = TerminalProgressBars.openFor("load", Duration.ofMillis(1300),
                new DelegatingProgressBarConsumer(frames::add))) {
            bar.step(7);
            Thread.sleep(1400);            // let the run's length pass: the bar is then full
        }
        String last = frames.getLast();
        assertThat(last).contains("load", "100%", "2/2s", "/ 0:00:00) 7 done, ").endsWith(": done");
        assertThat(frames).noneMatch(f -> f.contains("?"));
    }
}
