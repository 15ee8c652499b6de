package dev.silo.testing;

import dev.silo.app.Silo;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Silo nodes for tests. {@link #shared()} is one node on one embedded PostgreSQL for the whole test run
 * (started on first use, stopped when the JVM exits); {@link #startNew} starts a separate node on its own
 * data directory for tests that stop and restart.
 */
public final class TestingSilo {
    private static Silo shared;

    /** The clock of the shared node; tests that advance it reset it in a finally block. */
    public static final TestingClock CLOCK = new TestingClock();

    private TestingSilo() {}

    /** How many {@code /test/slow} requests have reached their handler, on any node: lets a test wait until one is in flight. */
    public static final java.util.concurrent.atomic.AtomicInteger SLOW_STARTED = new java.util.concurrent.atomic.AtomicInteger();

    /** Routes only tests have: a handler that throws, one that echoes JSON, one that is slow. */
    public static final Consumer<Routes> TEST_ROUTES = routes -> routes
            .get("/test/boom", (request, response) -> {
                throw new IllegalStateException("internal detail: password=hunter2 at db.internal:5432");
            })
            .post("/test/echo", (request, response) -> Json.ok(response, Json.readObject(request)))
            .get("/test/slow", (request, response) -> {
                SLOW_STARTED.incrementAndGet();
                Thread.sleep(Long.parseLong(request.query().first("ms").orElse("1000")));
                Json.ok(response, Map.of("slept", true));
            });

    public static synchronized Silo shared() {
        if (shared == null) {
            TestingLogs.install();
            shared = startNew(newDataDir("shared"), Map.of(), CLOCK);
            Silo node = shared;
            Runtime.getRuntime().addShutdownHook(new Thread(node::close));
        }
        return shared;
    }

    public static Path newDataDir(String name) {
        try {
            Path target = Path.of(System.getProperty("silo.test.target", "target"));
            Files.createDirectories(target);
            return Files.createTempDirectory(target, "silo-" + name + "-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static Silo startNew(Path dataDir, Map<String, String> extraEnv) {
        return startNew(dataDir, extraEnv, Clock.systemUTC());
    }

    public static Silo startNew(Path dataDir, Map<String, String> extraEnv, Clock clock) {
        Map<String, String> env = new HashMap<>(extraEnv);
        if (!extraEnv.containsKey("SILO_DATABASE_URL")) {
            env.put("SILO_DATA_DIR", dataDir.toString());
        }
        env.put("SILO_PORT", "0");
        env.put("SILO_HOST", "127.0.0.1");
        // The floor, to keep tests fast; one test checks the default of 12.
        env.putIfAbsent("SILO_BCRYPT_COST", "10");
        return Silo.start(SiloConfig.resolve(SiloConfig.Flags.none(), env), clock, TEST_ROUTES);
    }

    /** The bootstrap operator key of a node started on an empty data directory. */
    public static String operatorKey(Silo silo) {
        try {
            return Files.readString(silo.config().dataDir().resolve(Silo.BOOTSTRAP_KEY_FILE)).strip();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
