package bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

final class Machine {
    /** Empty when a Redis answers PING at {@code host:port}; else why not. */
    static Optional<String> redisUnreachable(String host, int port) {
        try (java.net.Socket socket = new java.net.Socket()) {
            socket.connect(new java.net.InetSocketAddress(host, port), 1000);
            socket.setSoTimeout(2000);
            socket.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
            byte[] answer = new byte[64];
            int read = socket.getInputStream().read(answer);
            String text = read <= 0 ? "" : new String(answer, 0, read, StandardCharsets.US_ASCII).strip();
            return text.equals("+PONG") ? Optional.empty() : Optional.of("it answered '" + text + "' to PING");
        } catch (IOException e) {
            return Optional.of(e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    static int cores() {
        return Runtime.getRuntime().availableProcessors();
    }

    static String describe() {
        String cpu = "unknown CPU";
        String memory = "unknown memory";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse(cpu);
            memory = Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("MemTotal:"))
                    .map(l -> String.format(Locale.ROOT, "%.1f GiB RAM",
                            Long.parseLong(l.replaceAll("\\D", "")) / 1024.0 / 1024.0)).findFirst().orElse(memory);
        } catch (IOException | RuntimeException ignored) {
            // not Linux: keep "unknown"
        }
        return cores() + " cores (" + cpu + "), " + memory + ", " + System.getProperty("os.name") + " "
                + System.getProperty("os.version");
    }

    static String siloVersion(Path jar) {
        try {
            Process process = new ProcessBuilder(javaCommand(jar, "version")).redirectErrorStream(true).start();
            String text = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(60, TimeUnit.SECONDS) || process.exitValue() != 0) {
                return "unknown (`silo version` failed)";
            }
            String version = text.lines().findFirst().orElse("").strip();
            String commit = text.lines().filter(l -> l.startsWith("commit:")).map(l -> l.substring(7).strip())
                    .findFirst().orElse("?");
            return "`" + version + "`, commit " + commit + " (target/silo.jar)";
        } catch (IOException e) {
            return "unknown (" + e.getMessage() + ")";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown";
        }
    }

    /**
     * The JVM options ./silo passes (before SILO_JAVA_OPTS): the repository's {@code jvm.options} (next to the
     * jar's {@code target/}), then what ./silo adds by JDK version. Read, not copied, so the memory rows measure
     * the defaults users get.
     */
    static List<String> siloJvmOptions(Path jar) {
        List<String> options = new ArrayList<>();
        Path file = jar.toAbsolutePath().getParent().getParent().resolve("jvm.options");
        try {
            for (String line : Files.readAllLines(file)) {
                String option = line.strip();
                if (!option.isEmpty() && !option.startsWith("#")) {
                    options.add(option);
                }
            }
        } catch (IOException e) {
            throw new Fatal("cannot read " + file + " (the JVM options ./silo uses): " + e.getMessage());
        }
        if (Runtime.version().feature() >= 22) {
            options.add("-XX:TrimNativeHeapInterval=10000");
        }
        if (Runtime.version().feature() >= 23) {
            // Tink's protobuf runtime uses sun.misc.Unsafe (as ./silo does).
            options.add("--sun-misc-unsafe-memory-access=allow");
        }
        if (Runtime.version().feature() >= 19) {
            // As `./silo serve`: the class data sharing archive next to the jar, used when it matches the jar. Only a
            // start that asks for it (StartRows, once per jar) writes it: a short command would archive a few classes.
            options.add("-XX:SharedArchiveFile=" + classArchive(jar));
            if (createClassArchive) {
                options.add("-XX:+AutoCreateSharedArchive");
            }
            options.add("-Xlog:cds=off");
            options.add("-Xlog:cds+dynamic=off");
        }
        return options;
    }

    /** While true, the Silo JVMs launched write {@link #classArchive} when they exit, if it is missing or stale. */
    static volatile boolean createClassArchive;

    /** target/silo.jsa, where ./silo keeps the class data sharing archive of {@code serve}. */
    static Path classArchive(Path jar) {
        return jar.toAbsolutePath().resolveSibling("silo.jsa");
    }

    /** The machine's RAM in bytes (MemTotal), or 0 if unknown. */
    static long totalMemory() {
        try {
            return Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("MemTotal:"))
                    .map(l -> Long.parseLong(l.replaceAll("\\D", "")) * 1024).findFirst().orElse(0L);
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    static List<String> javaCommand(Path jar, String... args) {
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(siloJvmOptions(jar));
        String extra = System.getenv("SILO_BENCH_JVM_OPTS");
        if (extra != null && !extra.isBlank()) {
            // For profiling Silo under the benchmark, e.g. -XX:StartFlightRecording=...
            command.addAll(List.of(extra.trim().split("\\s+")));
        }
        command.add("-jar");
        command.add(jar.toString());
        command.addAll(List.of(args));
        return command;
    }
}
