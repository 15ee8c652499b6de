package dev.silo.cli;

import dev.silo.app.Silo;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.db.EmbeddedPostgresServer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "serve", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Start a Silo node. With no configuration it runs its own PostgreSQL (TLS only, WAL streamed to the backup store) in the data directory.",
                "",
                "Flags override environment variables, which override defaults:",
                "  PORT / SILO_PORT          HTTP port (8080; 0 picks a free port)",
                "  SILO_HOST                 address to bind (0.0.0.0)",
                "  SILO_DATA_DIR             data directory (./silo-data)",
                "  SILO_DATABASE_URL         external catalog, postgres://USER:PASS@HOST:PORT/DB (also DATABASE_URL)",
                "  SILO_MASTER_KEY           32 random bytes in base64 (openssl rand -base64 32); or SILO_MASTER_KEY_FILE",
                "  SILO_PUBLIC_URL           the URL clients use, such as https://api.example.com",
                "  SILO_LOG_FORMAT           json (default) or text",
                "  SILO_LOG_DRAINS           also ship the logs to syslog+tls://host:port, syslog://host:port or https://... (comma-separated);",
                "                            SILO_LOG_DRAINS_CA a PEM file of a private CA",
                "  SILO_SMTP_URL             send account mail through smtp://USER:PASS@HOST:587 (STARTTLS) or smtps://...:465;",
                "                            SILO_MAIL_FROM the default sender, SILO_SMTP_CA a PEM file of a private CA",
                "  SILO_SHUTDOWN_DRAIN_SECONDS  seconds readiness answers 503 before the listener closes on stop",
                "  SILO_MIGRATE_AT_START     on: migrate the external catalog at start; off (default where DYNO is set): only check it,",
                "                            waiting SILO_CATALOG_WAIT_SECONDS (20) for `silo migrate` (the release phase)",
                "  SILO_MAX_CONNECTIONS      open HTTP connections at most (4096); SILO_MAX_CONNECTIONS_PER_ADDRESS (256)",
                "  SILO_HEADER_TIMEOUT_SECONDS  a request head must arrive within this (10); SILO_IDLE_TIMEOUT_SECONDS (60)",
                "  SILO_TLS_CERT_FILE        serve HTTPS with this PEM chain and SILO_TLS_KEY_FILE (PKCS#8); reloaded on change",
                "  SILO_TLS                  self-signed: generate a development certificate into <data dir>/https",
                "  SILO_REQUIRE_HTTPS        true: redirect or refuse plain HTTP (default true when DYNO is set)",
                "  SILO_HASHING_THREADS      platform threads for bcrypt (cores - 1, at least 1); SILO_HASHING_QUEUE",
                "  SILO_BACKUP_URL           backup store, file:///path or s3://bucket/prefix (<data dir>/backups/store);",
                "                            SILO_BACKUP_S3_ENDPOINT for an S3-compatible store, SILO_BACKUP_S3_REGION",
                "  SILO_BASE_BACKUP_HOURS    hours between base backups (24; 0 = on demand only)",
                "",
                "Every setting, with tenant pools, retention and token lifetimes: the README's Configuration section.",
                ""},
        footer = {"", "Stop with Ctrl-C or SIGTERM: readiness turns 503 for SILO_SHUTDOWN_DRAIN_SECONDS (5 on a platform that",
                "sets PORT, DYNO or KUBERNETES_SERVICE_HOST, else 0) while requests are still served, in-flight requests",
                "finish, PostgreSQL stops cleanly, and the exit status is 0. A stop that takes longer than the drain + 18 s",
                "(26 s on Heroku by default, under its 30 s limit) logs where it is stuck, stops PostgreSQL and exits with 1."})
public final class ServeCommand implements Callable<Integer> {
    private final Map<String, String> env;
    private final PrintStream out;

    @Option(names = "--port", paramLabel = "PORT", description = "HTTP port (default: $PORT, $SILO_PORT or 8080)")
    String port;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "data directory (default: $SILO_DATA_DIR or ./silo-data)")
    String dataDir;

    @Option(names = "--database-url", paramLabel = "URL", description = "external catalog database (default: $SILO_DATABASE_URL or $DATABASE_URL; none = embedded)")
    String databaseUrl;

    @Option(names = "--public-url", paramLabel = "URL", description = "the URL clients use to reach Silo (default: $SILO_PUBLIC_URL)")
    String publicUrl;

    /** Heroku sends SIGKILL this long after SIGTERM. */
    static final Duration HEROKU_STOP_LIMIT = Duration.ofSeconds(30);

    /**
     * How long the stop may take after the drain: the HTTP server's grace for in-flight requests (10 s, set in
     * {@code Silo.start}) and 8 s for the jobs, backups, pools and PostgreSQL to stop. Past it (plus
     * {@link StopSignals#LAST_RESORT_LIMIT}) the process halts: with the default drain of 5 s on a platform, a stop
     * ends within 26 s, inside Heroku's 30.
     */
    static final Duration STOP_AFTER_DRAIN = Duration.ofSeconds(18);

    static Duration stopDeadline(SiloConfig config) {
        return Duration.ofSeconds(config.tuning().shutdownDrainSeconds()).plus(STOP_AFTER_DRAIN);
    }

    public ServeCommand(Map<String, String> env, PrintStream out) {
        this.env = env;
        this.out = out;
    }

    @Override
    public Integer call() throws InterruptedException {
        SiloConfig config = SiloConfig.resolve(new SiloConfig.Flags(port, dataDir, databaseUrl, publicUrl), env);
        Silo silo = Silo.start(config);
        Duration stopDeadline = stopDeadline(config);
        StopSignals.install(silo::close, stopDeadline, () -> silo.embedded().ifPresent(EmbeddedPostgresServer::close));
        if (env.containsKey("DYNO") && stopDeadline.plus(StopSignals.LAST_RESORT_LIMIT).compareTo(HEROKU_STOP_LIMIT) >= 0) {
            org.slf4j.LoggerFactory.getLogger(ServeCommand.class).warn("SILO_SHUTDOWN_DRAIN_SECONDS={} lets a stop take up to {} s, "
                    + "longer than the {} s Heroku allows after SIGTERM before it kills the dyno; keep it at {} or below",
                    config.tuning().shutdownDrainSeconds(), stopDeadline.plus(StopSignals.LAST_RESORT_LIMIT).toSeconds(),
                    HEROKU_STOP_LIMIT.toSeconds(), HEROKU_STOP_LIMIT.minus(STOP_AFTER_DRAIN).minus(StopSignals.LAST_RESORT_LIMIT)
                            .toSeconds() - 1);
        }
        // Any other way the JVM ends (System.exit, SIGHUP, or a JVM run with -Xrs) still stops Silo in order.
        Runtime.getRuntime().addShutdownHook(new Thread(silo::close, "silo-shutdown"));
        silo.bootstrapOperator().ifPresent(created -> {
            java.nio.file.Path file = config.dataDir().resolve(Silo.BOOTSTRAP_KEY_FILE);
            if (System.console() != null) {
                out.println();
                out.println("First start: created the operator 'bootstrap'. Its API key, shown this once (also in " + file + "):");
                out.println("  " + created.key());
                out.println("Make your own with `./silo operators create NAME`, then `./silo operators revoke bootstrap`.");
                out.println();
            } else {
                out.println("First start: created the operator 'bootstrap'; its API key is in " + file + " (mode 0600).");
            }
        });
        if (config.embedded()) {
            out.println("Backups are written to " + config.backupUrl().display() + (config.dataDir().resolve(
                    dev.silo.platform.config.BackupUrl.POINTER_FILE).toFile().isFile() && !env.containsKey("SILO_BACKUP_URL")
                    ? " (from " + dev.silo.platform.config.BackupUrl.POINTER_FILE + ", written by silo restore)" : ""));
        }
        out.println("Silo is ready at " + silo.baseUri() + "  (data: " + config.dataDir() + "; stop with Ctrl-C)");
        out.flush();
        silo.awaitClose();
        return 0;
    }
}
