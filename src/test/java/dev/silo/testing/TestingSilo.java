package dev.silo.testing;

import dev.silo.app.Silo;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.db.PostgresBinaries;
import dev.silo.platform.db.PrivateFiles;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.ref.WeakReference;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Silo nodes for tests. {@link #shared()} is one node on one embedded PostgreSQL for the whole test run
 * (started on first use, stopped when the JVM exits); {@link #startNew} starts a separate node on its own
 * data directory for tests that stop and restart.
 *
 * <p>Nodes started here are tracked until their test class ends: {@link StaticsRelease} then closes those still
 * running and drops the class's static fields, so a finished class keeps no node (its pools, caches, HTTP server)
 * reachable for the rest of the run.
 */
public final class TestingSilo {
    private static Silo shared;
    /**
     * Nodes started since the current test class began. Weakly: a node a test closed can go at once (its 16 MB WAL
     * buffer with it, WalStreamingTest starts seven), while a running one stays reachable through its threads.
     */
    private static final List<WeakReference<Silo>> started = new ArrayList<>();
    /** The PostgreSQL binaries unpacked once per run, linked into the data directories of new nodes. */
    private static Path binaries;

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
            .get("/test/listener", (request, response) -> Json.ok(response,
                    Map.of("tcp_no_delay", request.listenerContext().config().connectionOptions().tcpNoDelay())))
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

    private static boolean staleRemoved;

    public static Path newDataDir(String name) {
        try {
            Path target = Path.of(System.getProperty("silo.test.target", "target"));
            Files.createDirectories(target);
            removeStaleDataDirs(target);
            return Files.createTempDirectory(target, "silo-" + name + "-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Data directories of earlier runs (an hour old or more) are removed once per test JVM: each run leaves its
     * shared node's directory (hundreds of megabytes of WAL) for a look after a failure, and repeated local runs
     * would otherwise fill the disk. A directory of a run still going is younger than that.
     */
    private static synchronized void removeStaleDataDirs(Path target) throws IOException {
        if (staleRemoved) {
            return;
        }
        staleRemoved = true;
        java.nio.file.attribute.FileTime cutoff = java.nio.file.attribute.FileTime.from(
                java.time.Instant.now().minus(java.time.Duration.ofHours(1)));
        try (var entries = Files.newDirectoryStream(target, "silo-*")) {
            for (Path dir : entries) {
                if (Files.isDirectory(dir) && Files.getLastModifiedTime(dir).compareTo(cutoff) < 0) {
                    deleteTree(dir);
                }
            }
        }
    }

    private static void deleteTree(Path dir) {
        try (var paths = Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(path -> {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException e) {
                    // best effort: a file that cannot go stays for the next run
                }
            });
        } catch (IOException | UncheckedIOException e) {
            // best effort
        }
    }

    public static final java.util.List<String> RATE_LIMIT_SETTINGS = java.util.List.of("SILO_RATE_LIMIT_IP",
            "SILO_RATE_LIMIT_TENANT", "SILO_RATE_LIMIT_USER_WRITE", "SILO_RATE_LIMIT_AUTH", "SILO_RATE_LIMIT_ADMIN");

    public static Silo startNew(Path dataDir, Map<String, String> extraEnv) {
        return startNew(dataDir, extraEnv, Clock.systemUTC());
    }

    public static Silo startNew(Path dataDir, Map<String, String> extraEnv, Clock clock) {
        Map<String, String> env = new HashMap<>(extraEnv);
        // Also with an external catalog: the data dir then holds the default backup store and the audit checkpoints,
        // which must not land in the working directory (./silo-data) where a second run would find another key's.
        env.putIfAbsent("SILO_DATA_DIR", dataDir.toString());
        env.put("SILO_PORT", "0");
        env.put("SILO_HOST", "127.0.0.1");
        // The floor, to keep tests fast; one test checks the default of 12.
        env.putIfAbsent("SILO_BCRYPT_COST", "10");
        // Base backups only when a test asks for one: a scheduled copy of every test node would slow the suite.
        env.putIfAbsent("SILO_BASE_BACKUP_HOURS", "0");
        // Restore drills likewise: a clock advanced by days must not start one (a whole restore) in the middle of a run.
        env.putIfAbsent("SILO_BACKUP_DRILL_DAYS", "0");
        // Spare tenant databases only where a test asks for them (TenantSparesTest): the provisioning tests inject
        // failures into the full path, and count databases.
        env.putIfAbsent("SILO_TENANT_SPARES", "0");
        // Every test's requests come from 127.0.0.1: rate limits only where a test sets them (RateLimitTest).
        for (String limit : RATE_LIMIT_SETTINGS) {
            env.putIfAbsent(limit, "off");
        }
        if (!env.containsKey("SILO_DATABASE_URL")) {
            seedBinaries(dataDir);
        }
        Silo node = Silo.start(SiloConfig.resolve(SiloConfig.Flags.none(), env), clock, TEST_ROUTES);
        synchronized (started) {
            started.add(new WeakReference<>(node));
        }
        return node;
    }

    /**
     * Closes the nodes started since the last call that are still running (closing a closed node returns at once)
     * and forgets them all; the shared node stays. Called when a test class ends.
     */
    static void closeStartedNodes() {
        List<WeakReference<Silo>> nodes;
        synchronized (started) {
            nodes = new ArrayList<>(started);
            started.clear();
        }
        for (WeakReference<Silo> reference : nodes) {
            Silo node = reference.get();
            if (node != null && node != shared) {
                node.close();
            }
        }
    }

    /**
     * Gives a new data directory the PostgreSQL binaries before its first start, as hard links to one copy unpacked
     * per run: unpacking the xz archive (60 MB, a thousand files) took 10-15 s of CPU per node on a busy 2-core
     * machine, and most test classes start nodes on fresh directories. What the node runs is the same: the files
     * have the owner-only modes {@link PostgresBinaries} gives them, and {@link PostgresBinaries#prepare} finds them
     * in place. Data directories that are not fresh (restarts, restores) and the CLI's own starts still unpack, and
     * EmbeddedPostgresLifecycleTest checks a runtime exposed to other users is unpacked again.
     */
    private static synchronized void seedBinaries(Path dataDir) {
        Path runtime = dataDir.resolve("postgres").resolve("runtime");
        if (Files.exists(dataDir.resolve("postgres"))) {
            return;
        }
        try {
            if (binaries == null) {
                Path target = Path.of(System.getProperty("silo.test.target", "target"));
                binaries = PostgresBinaries.prepare(target.resolve("postgres-binaries")).home();
            }
            Path home = runtime.resolve(binaries.getFileName().toString());
            Files.createDirectories(runtime, PrivateFiles.directoryMode());
            try (var paths = Files.walk(binaries)) {
                for (Path source : (Iterable<Path>) paths::iterator) {
                    Path copy = home.resolve(binaries.relativize(source).toString());
                    if (Files.isSymbolicLink(source)) {
                        Files.createSymbolicLink(copy, Files.readSymbolicLink(source));
                    } else if (Files.isDirectory(source)) {
                        Files.createDirectory(copy, PosixFilePermissions.asFileAttribute(Files.getPosixFilePermissions(source)));
                    } else {
                        linkOrCopy(source, copy);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot seed the PostgreSQL binaries into " + runtime, e);
        }
    }

    private static void linkOrCopy(Path source, Path copy) throws IOException {
        try {
            Files.createLink(copy, source);
        } catch (IOException | UnsupportedOperationException e) {
            Files.copy(source, copy, StandardCopyOption.COPY_ATTRIBUTES);
        }
    }

    /**
     * Another node on the {@link #shared()} node's catalog (its tenants, operators and catalog events), with its
     * own settings: what a second dyno behind the same router is.
     */
    public static Silo startOnSharedCatalog(String name, Map<String, String> extraEnv) {
        return startOnSharedCatalog(name, extraEnv, Clock.systemUTC());
    }

    /** {@link #startOnSharedCatalog(String, Map)} with the node's own clock (its login throttle is its own too). */
    public static Silo startOnSharedCatalog(String name, Map<String, String> extraEnv, Clock clock) {
        Silo first = shared();
        var catalog = first.catalogUrl();
        String url = "postgres://" + catalog.user() + ":" + catalog.password() + "@localhost:" + catalog.port() + "/"
                + catalog.database() + "?sslmode=verify-full&sslrootcert=" + catalog.parameters().get("sslrootcert");
        try {
            String masterKey = Files.readString(first.config().dataDir().resolve("master.key")).strip();
            Map<String, String> env = new HashMap<>(extraEnv);
            env.put("SILO_DATABASE_URL", url);
            env.put("SILO_MASTER_KEY", masterKey);
            return startNew(newDataDir(name), env, clock);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
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
