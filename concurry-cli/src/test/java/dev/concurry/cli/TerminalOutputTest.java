package dev.concurry.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;

/**
 * {@code ./concurry demo} on a real terminal: run through the launcher under a pseudo-terminal made by
 * {@code script} (skipped, with a message, where it is missing), so that the JVM and the progress bars
 * behave as they do for a person, not as with output piped.
 */
class TerminalOutputTest {
    /** Colours (removed), and cursor moves (the bar library moves up and down a line: a new line here). */
    private static final Pattern COLOURS = Pattern.compile("\u001B\\[[0-9;]*m");
    private static final Pattern MOVES = Pattern.compile("\u001B\\[[0-9;]*[A-Za-z]");

    @Test
    @DisplayName("P1 the demo on a terminal: no JVM warnings, a time-boxed bar with elapsed/remaining time, ends cleanly")
    void theDemoOnATerminalHasNoWarningsAndCleanTimeBoxedBars() throws Exception {
        Path script = Path.of("/usr/bin/script");
        Assumptions.assumeTrue(Files.isExecutable(script), "no /usr/bin/script (util-linux) here: the pseudo-terminal"
                + " test of the demo's output is skipped; apt-get install bsdutils to run it");
        Path launcher = Path.of("..", "concurry").toAbsolutePath().normalize();
        Path output = Files.createTempDirectory("concurry-demo-tty");
        String command = "bash " + launcher + " demo llm --seconds 2 --minute 1 --output " + output;
        ProcessBuilder builder = new ProcessBuilder(script.toString(), "-qec", command, "/dev/null")
                .redirectErrorStream(true);
        // The launcher runs these very classes (no nested build) on this JDK, with its own JVM flags.
        builder.environment().put("CONCURRY_CLASSPATH", System.getProperty("java.class.path"));
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        builder.environment().put("TERM", "xterm-256color");
        Process process = builder.start();
        String raw = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).as(raw).isZero();

        // What the terminal shows, line by line: a carriage return inside a line starts it over (the
        // terminal's own line ends are \r\n).
        String shown = MOVES.matcher(COLOURS.matcher(raw).replaceAll("")).replaceAll("\n");
        List<String> lines = Arrays.stream(shown.split("\n"))
                .map(line -> line.replaceAll("\r+$", "")).map(line -> line.substring(line.lastIndexOf('\r') + 1))
                .filter(line -> !line.isBlank()).toList();
        assertThat(lines).as(raw).noneMatch(line -> line.startsWith("WARNING"));
        List<String> bars = lines.stream().filter(line -> line.startsWith("llm with limits")).toList();
        assertThat(bars).as(raw).isNotEmpty();
        assertThat(bars).as("a time-boxed run has a known length: no '?' total").noneMatch(bar -> bar.contains("?"));
        assertThat(bars.getLast()).contains("100%", "2/2s").endsWith(": done").doesNotContain("/sdone");
        assertThat(lines).anyMatch(line -> line.startsWith("  LLM API, with Concurry limits"));
        assertThat(lines).anyMatch(line -> line.matches("  answered 429 \\(rate limited\\) +0"));
        assertThat(raw).as("the report starts on a line of its own").containsPattern("\n  LLM API, with");
        deleteTree(output);
    }

    private static void deleteTree(Path dir) {
        File[] files = dir.toFile().listFiles();
        if (files != null) {
            for (File f : files) {
                f.delete();
            }
        }
        dir.toFile().delete();
    }
}
