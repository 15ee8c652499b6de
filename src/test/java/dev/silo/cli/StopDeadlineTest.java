package dev.silo.cli;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A stop that hangs does not outlive the platform's limit (Heroku kills a dyno 30 s after SIGTERM): past its
 * deadline the process says where the stop was stuck, runs the last resort (stops PostgreSQL) and halts with 1.
 * A process of its own, since the JVM halts.
 */
class StopDeadlineTest {
    @Test
    void aStopStuckPastItsDeadlineRunsTheLastResortAndExitsWithOne() throws Exception {
        Path dir = Files.createTempDirectory(Path.of(System.getProperty("silo.test.target", "target")), "silo-stop-deadline-");
        Path log = dir.resolve("out.log");
        Path lastResort = dir.resolve("last-resort");
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        Process process = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), StuckStop.class.getName(),
                lastResort.toString()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(log).contains("installed") || !process.isAlive());
            process.destroy(); // SIGTERM
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).as(Files.readString(log)).isTrue();
            assertThat(process.exitValue()).as(Files.readString(log)).isEqualTo(StopSignals.EXIT_STOP_OVERRAN);
            assertThat(Files.readString(log)).contains("did not stop within 1 s").contains("StuckStop");
            assertThat(lastResort).as("the last resort ran").exists();
        } finally {
            process.destroyForcibly();
        }
    }

    @Test
    void aStopThatEndsInTimeExitsWithZeroAndSkipsTheLastResort() throws Exception {
        Path dir = Files.createTempDirectory(Path.of(System.getProperty("silo.test.target", "target")), "silo-stop-deadline-");
        Path log = dir.resolve("out.log");
        Path lastResort = dir.resolve("last-resort");
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        Process process = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), StuckStop.class.getName(),
                lastResort.toString(), "quick").redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            await().atMost(Duration.ofSeconds(60)).until(() -> Files.readString(log).contains("installed") || !process.isAlive());
            process.destroy();
            assertThat(process.waitFor(60, TimeUnit.SECONDS)).as(Files.readString(log)).isTrue();
            assertThat(process.exitValue()).as(Files.readString(log)).isZero();
            assertThat(lastResort).doesNotExist();
        } finally {
            process.destroyForcibly();
        }
    }

    /** A process whose stop hangs (or, with "quick", returns at once), with a 1 s deadline. */
    static final class StuckStop {
        public static void main(String[] args) throws Exception {
            Path lastResort = Path.of(args[0]);
            boolean quick = args.length > 1 && args[1].equals("quick");
            StopSignals.install(() -> {
                if (!quick) {
                    try {
                        Thread.sleep(Duration.ofHours(1));
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            }, Duration.ofSeconds(1), () -> {
                try {
                    Files.writeString(lastResort, "ran");
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            System.out.println("installed");
            System.out.flush();
            Thread.sleep(Duration.ofHours(1));
        }
    }
}
