package bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/** Runs an external tool, returning its output; a non-zero exit is an error carrying the output. */
final class Tool {
    static String run(Path tool, List<String> args, Map<String, String> env, Duration timeout) throws Exception {
        List<String> command = new ArrayList<>();
        command.add(tool.toString());
        command.addAll(args);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().putAll(env);
        Process process = builder.start();
        AtomicReference<String> output = new AtomicReference<>("");
        Thread reader = Thread.ofVirtual().start(() -> {
            try {
                output.set(new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException ignored) {
                // the process was killed
            }
        });
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new Fatal(tool.getFileName() + " " + String.join(" ", args) + " did not finish within " + Format.seconds(timeout));
        }
        reader.join(30_000);
        String text = output.get();
        if (process.exitValue() != 0) {
            throw new Fatal(tool.getFileName() + " " + String.join(" ", args) + " exited with " + process.exitValue()
                    + ": " + SiloProcess.tail(text, 8));
        }
        return text;
    }
}
