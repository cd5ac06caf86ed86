package dev.concurry.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class LauncherTest {

    @Test
    void without_a_jdk_21_the_launcher_says_so_and_exits_non_zero() throws Exception {
        Path script = Path.of("..", "concurry").toAbsolutePath().normalize();
        assertThat(script).exists();
        Path empty = Files.createTempDirectory("no-jdks");
        ProcessBuilder builder = new ProcessBuilder("bash", script.toString(), "demo").redirectErrorStream(true);
        builder.environment().remove("JAVA_HOME");
        builder.environment().put("CONCURRY_JDK_ROOT", empty.toString());
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(process.exitValue()).isNotZero();
        assertThat(output).contains("no JDK 21 or newer found");
    }
}
