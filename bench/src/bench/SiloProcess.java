package bench;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

final class SiloProcess {
    private static final Pattern READY = Pattern.compile("Silo is ready at (http://\\S+)");
    private static final Pattern PG_READY = Pattern.compile("Embedded PostgreSQL ready on 127\\.0\\.0\\.1:(\\d+)");
    private static final Pattern OPERATOR_KEY = Pattern.compile("silo_op_[A-Za-z0-9_\\-]{16,}");

    /** Settings of the caller's environment that would point Silo elsewhere: removed for every Silo the bench runs. */
    static final List<String> CALLER_SETTINGS = List.of("SILO_DATABASE_URL", "DATABASE_URL", "SILO_MASTER_KEY",
            "SILO_MASTER_KEY_FILE", "SILO_PORT", "PORT", "SILO_DATA_DIR", "SILO_PUBLIC_URL", "SILO_OPERATOR_KEY");

    private final Options options;
    private final Path dataDir;
    private final Path log;
    private volatile Process process;
    private volatile URI baseUri;
    private volatile int postgresPort;
    private volatile String superuserPassword;
    private volatile boolean stopped;
    private volatile long launchedAt;

    private final String name;
    private final Map<String, String> extraEnv;

    SiloProcess(Options options) {
        this(options, "", Map.of());
    }

    /** Another Silo in the same run (its own data directory and log), with {@code extraEnv} on top. */
    SiloProcess(Options options, String name, Map<String, String> extraEnv) {
        this.options = options;
        this.name = name;
        this.extraEnv = Map.copyOf(extraEnv);
        String suffix = name.isEmpty() ? "" : "-" + name;
        this.dataDir = options.work().resolve("data" + suffix);
        this.log = options.work().resolve("silo" + suffix + ".log");
    }

    void start() throws IOException, InterruptedException {
        List<String> command = Machine.javaCommand(options.jar(), "serve", "--port", "0", "--data-dir", dataDir.toString());
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.to(log.toFile()));
        Map<String, String> env = builder.environment();
        // A fresh embedded installation, whatever the caller's environment says.
        for (String name : CALLER_SETTINGS) {
            env.remove(name);
        }
        env.put("SILO_HOST", "127.0.0.1");
        env.putIfAbsent("MALLOC_ARENA_MAX", "2"); // as ./silo and the Procfile set it
        env.put("SILO_LOG_FORMAT", "json");
        env.put("SILO_BCRYPT_COST", Integer.toString(options.bcryptCost()));
        env.putAll(extraEnv);
        // Every load generator connection comes from 127.0.0.1: the rate limits would measure 429s, not Silo.
        // Only row 7 sets them (high enough never to refuse), to measure what checking them costs.
        for (String limit : RateLimitRows.RATE_LIMIT_SETTINGS) {
            if (!extraEnv.containsKey(limit)) {
                env.put(limit, "off");
            }
        }
        if (!extraEnv.containsKey("SILO_REDIS_URL")) {
            env.remove("SILO_REDIS_URL");
        }
        boolean fresh = !Files.exists(dataDir);
        long started = System.nanoTime();
        System.err.println("bench: starting Silo on " + (fresh ? "a fresh" : "its existing") + " data directory " + dataDir);
        process = builder.start();
        launchedAt = started;
        Files.writeString(options.work().resolve(name.isEmpty() ? "silo.pid" : "silo-" + name + ".pid"),
                Long.toString(process.pid()));
        long deadline = started + TimeUnit.SECONDS.toNanos(180);
        while (System.nanoTime() < deadline) {
            String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
            Matcher ready = READY.matcher(text);
            if (ready.find()) {
                baseUri = URI.create(ready.group(1));
                Matcher pg = PG_READY.matcher(text);
                if (external()) {
                    postgresPort = 0; // a node on another node's catalog (rows 18, 19): no PostgreSQL of its own
                } else if (pg.find()) {
                    postgresPort = Integer.parseInt(pg.group(1));
                } else {
                    postgresPort = postmasterPort().orElseThrow(() -> new Fatal(
                            "Silo is ready but the embedded PostgreSQL port is neither in its log nor in postmaster.pid"));
                }
                System.err.printf(Locale.ROOT, "bench: Silo ready at %s in %.1f s (%s)%n", baseUri,
                        (System.nanoTime() - started) / 1e9, external() ? "external catalog"
                                : "PostgreSQL on port " + postgresPort);
                return;
            }
            if (!process.isAlive()) {
                throw new Fatal("Silo exited with status " + process.exitValue() + " before it was ready; its log ends with:\n"
                        + tail(text, 15));
            }
            Thread.sleep(50);
        }
        throw new Fatal("Silo was not ready within 180 s; its log ends with:\n" + tail(Files.readString(log), 15));
    }

    /** Started with {@code SILO_DATABASE_URL}: it serves from another server's catalog and has no embedded PostgreSQL. */
    boolean external() {
        return extraEnv.containsKey("SILO_DATABASE_URL");
    }

    /** The name given for another Silo of the run ("" for the main one). */
    String name() {
        return name;
    }

    /** {@link System#nanoTime()} just before the JVM was launched. */
    long launchedAt() {
        return launchedAt;
    }

    boolean started() {
        return process != null;
    }

    URI baseUri() {
        return baseUri;
    }

    int postgresPort() {
        return postgresPort;
    }

    long pid() {
        return process.pid();
    }

    Path dataDir() {
        return dataDir;
    }

    Path caCertificate() {
        return dataDir.resolve("postgres/tls/ca.crt");
    }

    Path postmasterPidFile() {
        return dataDir.resolve("postgres/data/postmaster.pid");
    }

    Optional<Long> postmasterPid() {
        try {
            List<String> lines = Files.readAllLines(postmasterPidFile());
            return lines.isEmpty() ? Optional.empty() : Optional.of(Long.parseLong(lines.get(0).strip()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    private Optional<Integer> postmasterPort() {
        try {
            List<String> lines = Files.readAllLines(postmasterPidFile());
            return lines.size() > 3 ? Optional.of(Integer.parseInt(lines.get(3).strip())) : Optional.empty();
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    /**
     * The embedded superuser's password, unwrapped with the generated master key exactly as Silo does
     * (see EmbeddedPostgresServer). Never printed.
     */
    synchronized String superuserPassword() {
        if (superuserPassword == null) {
            try {
                byte[] masterKey = dev.silo.platform.config.MasterKeyFormat.decode("master.key",
                        Files.readString(dataDir.resolve("master.key")));
                String wrapped = Files.readString(dataDir.resolve("postgres/superuser.wrapped")).strip();
                superuserPassword = dev.silo.platform.crypto.Envelope.fromRawKey(masterKey)
                        .unwrapString(Base64.getDecoder().decode(wrapped), "embedded-postgres/superuser");
            } catch (IOException | RuntimeException e) {
                throw new Fatal("cannot read the embedded superuser password from " + dataDir
                        + " (master.key, postgres/superuser.wrapped): " + e.getMessage());
            }
        }
        return superuserPassword;
    }

    /**
     * The bootstrap operator key of the first start (issue 3): from {@code <data dir>/bootstrap-operator.key}
     * (mode 0600), else the first {@code silo_op_...} in Silo's output.
     */
    Optional<String> operatorKey() {
        try {
            Path file = dataDir.resolve("bootstrap-operator.key");
            for (String text : new String[] {
                    Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "",
                    Files.readString(log, StandardCharsets.UTF_8)}) {
                Matcher matcher = OPERATOR_KEY.matcher(text);
                if (matcher.find()) {
                    return Optional.of(matcher.group());
                }
            }
            return Optional.empty();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    /** Is the process still running? A dead Silo turns every later measurement into an error. */
    void checkAlive() {
        if (process != null && !process.isAlive()) {
            throw new Fatal("Silo exited with status " + process.exitValue() + " during the benchmark");
        }
    }

    /**
     * SIGTERM (Silo then stops PostgreSQL itself), up to 40 s; then SIGKILL and a fast shutdown of a
     * PostgreSQL left behind. Idempotent; also run from the shutdown hook on Ctrl-C.
     */
    synchronized void stop() {
        if (stopped || process == null) {
            return;
        }
        stopped = true;
        try {
            if (process.isAlive()) {
                System.err.println("bench: stopping Silo (SIGTERM)");
                process.destroy();
                if (!process.waitFor(40, TimeUnit.SECONDS)) {
                    System.err.println("bench: Silo did not stop within 40 s; killing it");
                    process.destroyForcibly();
                    process.waitFor(10, TimeUnit.SECONDS);
                }
            }
            Optional<Long> postmaster = postmasterPid();
            if (postmaster.isPresent()) {
                Optional<ProcessHandle> handle = ProcessHandle.of(postmaster.get());
                if (handle.isPresent() && handle.get().isAlive() && ownsPostmaster(postmaster.get())) {
                    System.err.println("bench: PostgreSQL still running after Silo stopped; fast shutdown");
                    new ProcessBuilder("kill", "-INT", Long.toString(postmaster.get())).start().waitFor();
                    try {
                        handle.get().onExit().get(15, TimeUnit.SECONDS);
                    } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
                        handle.get().destroyForcibly();
                    }
                }
            }
        } catch (IOException e) {
            System.err.println("bench: while stopping Silo: " + e);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }

    private boolean ownsPostmaster(long pid) {
        try {
            String cmdline = Files.readString(Path.of("/proc/" + pid + "/cmdline")).replace('\0', ' ');
            return cmdline.contains(dataDir.toString());
        } catch (IOException e) {
            return false;
        }
    }

    /** Keeps Silo's log (operator keys redacted) in bench/out for a failed run. */
    void saveLogOnFailure(Path outDir) {
        try {
            if (!Files.exists(log)) {
                return;
            }
            Files.createDirectories(outDir);
            String stamp = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(Instant.now());
            Path target = outDir.resolve("silo-" + stamp + ".log");
            List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
            String kept = lines.size() <= 1000 ? String.join("\n", lines)
                    : String.join("\n", lines.subList(0, 500)) + "\n... (" + (lines.size() - 1000) + " lines left out) ...\n"
                    + String.join("\n", lines.subList(lines.size() - 500, lines.size()));
            String text = OPERATOR_KEY.matcher(kept).replaceAll("silo_op_<redacted>");
            Files.writeString(target, text);
            System.err.println("bench: Silo's log kept in " + target);
        } catch (IOException e) {
            System.err.println("bench: cannot keep Silo's log: " + e);
        }
    }

    static String tail(String text, int lines) {
        List<String> all = text.lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }
}
