package dev.silo.platform.config;

import dev.silo.platform.http.ConnectionLimits;
import dev.silo.platform.http.HttpsConfig;
import dev.silo.platform.http.TrustedProxies;
import dev.silo.platform.metrics.MetricsConfig;
import dev.silo.platform.ratelimit.RateLimitConfig;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;

import static java.util.Objects.requireNonNull;

/**
 * Everything {@code silo serve} needs, resolved once at start from flags, then environment, then defaults,
 * and validated there: a bad value fails the start with a {@link ConfigException} naming the setting.
 *
 * @param port            HTTP port ({@code --port}, {@code SILO_PORT}, {@code PORT}; default 8080; 0 picks a free port)
 * @param host            address to bind ({@code SILO_HOST}; default {@code 0.0.0.0})
 * @param dataDir         where the embedded PostgreSQL, its certificates, the WAL archive and a generated master key live
 * @param databaseUrl     an external catalog database; when present no embedded server is started
 * @param masterKey       the base64 master key from {@code SILO_MASTER_KEY} or {@code SILO_MASTER_KEY_FILE}, if given
 * @param publicUrl       the URL clients use to reach Silo; used as token issuer
 * @param logFormat       {@code json} (default) or {@code text}
 * @param backupUrl       where backups are stored ({@code SILO_BACKUP_URL}; default {@code <data dir>/backups/store})
 * @param logDrains       where the log streams are shipped besides stdout ({@code SILO_LOG_DRAINS}; none by default)
 * @param errorReports    where unexpected errors are reported ({@code ROLLBAR_ACCESS_TOKEN}, {@code SILO_ROLLBAR_ENDPOINT},
 *                        {@code SILO_ENVIRONMENT}); see {@link ErrorReportsConfig}
 */
public record SiloConfig(int port, String host, Path dataDir, Optional<DatabaseUrl> databaseUrl,
                         Optional<String> masterKey, Optional<URI> publicUrl, String logFormat, Tuning tuning,
                         BackupUrl backupUrl, LogDrainSettings logDrains, ErrorReportsConfig errorReports) {
    public static final int DEFAULT_PORT = 8080;

    public SiloConfig {
        requireNonNull(host, "host is null");
        requireNonNull(dataDir, "dataDir is null");
        requireNonNull(databaseUrl, "databaseUrl is null");
        requireNonNull(masterKey, "masterKey is null");
        requireNonNull(publicUrl, "publicUrl is null");
        requireNonNull(logFormat, "logFormat is null");
        requireNonNull(tuning, "tuning is null");
        requireNonNull(backupUrl, "backupUrl is null");
        requireNonNull(logDrains, "logDrains is null");
        requireNonNull(errorReports, "errorReports is null");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port out of range: " + port);
        }
    }

    public boolean embedded() {
        return databaseUrl.isEmpty();
    }

    /** The issuer base: the configured public URL, or {@code http(s)://HOST:PORT} as this machine reaches the node. */
    public URI publicUrlOr(int actualPort) {
        String scheme = tuning.https().servesTls() ? "https" : "http";
        return publicUrl.orElseGet(() -> URI.create(scheme + "://" + localHost() + ":" + actualPort));
    }

    /** The bind address as a local client uses it: {@code localhost} for a wildcard. */
    public String localHost() {
        return host.equals("0.0.0.0") || host.equals("::") ? "localhost" : host.contains(":") ? "[" + host + "]" : host;
    }

    /** Command-line values; {@code null} means "not given". */
    public record Flags(String port, String dataDir, String databaseUrl, String publicUrl) {
        public static Flags none() {
            return new Flags(null, null, null, null);
        }
    }

    /**
     * Resolves flags over environment over defaults.
     *
     * @throws ConfigException for the first bad value found
     */
    public static SiloConfig resolve(Flags flags, Map<String, String> env) {
        int port = parsePort(first(flags.port(), "--port", env, "SILO_PORT", "PORT"));
        String host = Optional.ofNullable(env.get("SILO_HOST")).filter(h -> !h.isBlank()).orElse("0.0.0.0");
        Path dataDir = parseDataDir(first(flags.dataDir(), "--data-dir", env, "SILO_DATA_DIR"));

        Setting dbSetting = first(flags.databaseUrl(), "--database-url", env, "SILO_DATABASE_URL", "DATABASE_URL");
        Optional<DatabaseUrl> databaseUrl = dbSetting == null
                ? Optional.empty()
                : Optional.of(DatabaseUrl.parse(dbSetting.name(), dbSetting.value()));

        Optional<String> masterKey = readMasterKey(env);
        if (databaseUrl.isPresent() && masterKey.isEmpty()) {
            throw new ConfigException("SILO_MASTER_KEY", "required with an external database "
                    + "(32 random bytes in base64, for example from `openssl rand -base64 32`)");
        }
        masterKey.ifPresent(key -> MasterKeyFormat.decode("SILO_MASTER_KEY", key));

        Setting publicSetting = first(flags.publicUrl(), "--public-url", env, "SILO_PUBLIC_URL");
        Optional<URI> publicUrl = publicSetting == null ? Optional.empty() : Optional.of(parsePublicUrl(publicSetting));

        String logFormat = Optional.ofNullable(env.get("SILO_LOG_FORMAT")).orElse("json");
        if (!logFormat.equals("json") && !logFormat.equals("text")) {
            throw new ConfigException("SILO_LOG_FORMAT", "expected json or text");
        }
        Tuning tuning = Tuning.from(env);
        OptionalInt metricsPort = tuning.metrics().port();
        if (metricsPort.isPresent() && metricsPort.getAsInt() != 0 && metricsPort.getAsInt() == port) {
            throw new ConfigException("SILO_METRICS_PORT", "must differ from the HTTP port " + port
                    + " (it serves /metrics without authentication on 127.0.0.1)");
        }
        return new SiloConfig(port, host, dataDir, databaseUrl, masterKey, publicUrl, logFormat, tuning,
                BackupUrl.resolve(env, dataDir),
                LogDrainSettings.resolve(env, intSetting(env, "SILO_LOG_DRAINS_QUEUE", LogDrainSettings.DEFAULT_QUEUE_LINES,
                        100, 1_000_000)),
                ErrorReportsConfig.from(env));
    }

    /**
     * The knobs of tenant lifecycle and connections, from the environment.
     *
     * @param retentionDays         days a deprovisioned tenant is kept before purge ({@code SILO_RETENTION_DAYS}, 7)
     * @param secretRotationDays    days between automatic JWT secret rotations ({@code SILO_SECRET_ROTATION_DAYS}, 90)
     * @param tenantPoolSize        connections per tenant pool ({@code SILO_TENANT_POOL_SIZE}, 4)
     * @param tenantPoolIdleSeconds an idle tenant pool is closed after this ({@code SILO_TENANT_POOL_IDLE_SECONDS}, 60)
     * @param tenantConnections     open tenant connections across all pools ({@code SILO_TENANT_CONNECTIONS}, 64)
     * @param tenantConnectionWaitMillis how long a request waits for a connection before 503 busy
     *                              ({@code SILO_TENANT_CONNECTION_WAIT_MS}, 3000)
     * @param bcryptCost            bcrypt cost of new password hashes ({@code SILO_BCRYPT_COST}, 12, never below 10)
     * @param passwordMinLength     shortest accepted password ({@code SILO_PASSWORD_MIN_LENGTH}, 12)
     * @param accessTokenMinutes    access-token lifetime ({@code SILO_ACCESS_TOKEN_MINUTES}, 15)
     * @param refreshTokenDays      absolute lifetime of a login session and its refresh tokens ({@code SILO_REFRESH_TOKEN_DAYS}, 30)
     * @param loginMaxFailures      failed logins per account before a lockout ({@code SILO_LOGIN_MAX_FAILURES}, 5)
     * @param loginWindowMinutes    the window those failures are counted in ({@code SILO_LOGIN_WINDOW_MINUTES}, 15)
     * @param hashingThreads        platform threads that run bcrypt ({@code SILO_HASHING_THREADS}, cores - 1, at least 1)
     * @param hashingQueue          bcrypt calls that may wait for one of them before 503 login-busy
     *                              ({@code SILO_HASHING_QUEUE}, 4 per hashing thread)
     * @param http                  HTTP connection limits ({@code SILO_MAX_CONNECTIONS} 4096,
     *                              {@code SILO_MAX_CONNECTIONS_PER_ADDRESS} 256, {@code SILO_HEADER_TIMEOUT_SECONDS} 10,
     *                              {@code SILO_IDLE_TIMEOUT_SECONDS} 60)
     * @param shutdownDrainSeconds  on stop, how long readiness answers 503 while requests are still served, before the
     *                              listener closes ({@code SILO_SHUTDOWN_DRAIN_SECONDS}; 5 where a platform routes by
     *                              readiness, see {@link #defaultDrainSeconds}, else 0)
     * @param walKeepMegabytes      embedded mode: the most WAL the server keeps for the backup receiver's replication slot
     *                              while the receiver or the store is behind ({@code SILO_WAL_KEEP_MB}, 4096)
     * @param baseBackupHours       embedded mode: hours between scheduled base backups ({@code SILO_BASE_BACKUP_HOURS},
     *                              24; 0 = none scheduled, only on demand); a node also takes one at start when the
     *                              store has none
     * @param backupRetentionDays   days backups are kept before they are deleted: base backups and WAL, catalog
     *                              snapshots (thinned), tenant backups ({@code SILO_BACKUP_RETENTION_DAYS}, 7)
     * @param trustedProxies        peers that may say who the client is ({@code SILO_TRUSTED_PROXIES}: CIDR list or
     *                              {@code heroku}; none by default)
     * @param backupDrillDays       embedded mode: days between scheduled restore drills ({@code SILO_BACKUP_DRILL_DAYS},
     *                              7; 0 = none scheduled, only on demand)
     * @param backupSynchronous     embedded mode: commits wait until the WAL receiver has put their WAL into the backup
     *                              store ({@code SILO_BACKUP_SYNCHRONOUS}, off)
     * @param backupSynchronousWaitSeconds in synchronous mode, how long commits may wait on a receiver that makes no
     *                              progress before Silo falls back to asynchronous with a warning
     *                              ({@code SILO_BACKUP_SYNCHRONOUS_WAIT_SECONDS}, 10)
     * @param backupStreaming       embedded mode: whether the WAL receiver runs ({@code SILO_BACKUP_STREAMING}, on);
     *                              {@code off} is for benchmarks and diagnosis only (nothing is then backed up continuously)
     * @param tenantBackupHours     hours between two logical backups of a tenant ({@code SILO_TENANT_BACKUP_HOURS}, 24)
     * @param backupConcurrency     tenant backups (and backup downloads) running at once ({@code SILO_BACKUP_CONCURRENCY}, 2)
     * @param rateLimits            rate limits ({@code SILO_RATE_LIMIT_*}) and the Redis that shares them
     *                              ({@code SILO_REDIS_URL}); see {@link RateLimitConfig}
     * @param https                 TLS on the port ({@code SILO_TLS_CERT_FILE} + {@code SILO_TLS_KEY_FILE}, or
     *                              {@code SILO_TLS=self-signed}; {@code SILO_TLS_RELOAD_SECONDS} 5) and
     *                              {@code SILO_REQUIRE_HTTPS} (on where {@code DYNO} is set, else off)
     * @param tenantSpares          spare tenant databases kept ready on the embedded server so that a create takes one
     *                              instead of provisioning ({@code SILO_TENANT_SPARES}, 2; 0 keeps none)
     * @param emergencyAccess       whether operators may open an emergency staff-access request that two operators
     *                              approve without the customer ({@code SILO_EMERGENCY_ACCESS}, false)
     * @param metrics               {@code SILO_METRICS_PORT} (none) and {@code SILO_METRICS_TENANT_LABELS} (false); see
     *                              {@link MetricsConfig}
     * @param catalogStart          whether a node migrates the catalog at start or only waits for a deployment step's
     *                              {@code silo migrate}; see {@link CatalogStart}
     * @param mail                  e-mail through SMTP ({@code SILO_SMTP_URL}, {@code SILO_MAIL_FROM}, {@code SILO_SMTP_CA});
     *                              see {@link MailConfig}
     */
    public record Tuning(int retentionDays, int secretRotationDays, int tenantPoolSize, int tenantPoolIdleSeconds,
                         int tenantConnections, int tenantConnectionWaitMillis, int bcryptCost, int passwordMinLength,
                         int accessTokenMinutes, int refreshTokenDays, int loginMaxFailures, int loginWindowMinutes,
                         int hashingThreads, int hashingQueue, ConnectionLimits http, int shutdownDrainSeconds,
                         int walKeepMegabytes, int baseBackupHours, int backupRetentionDays, TrustedProxies trustedProxies,
                         int backupDrillDays, boolean backupSynchronous, int backupSynchronousWaitSeconds,
                         boolean backupStreaming, int tenantBackupHours, int backupConcurrency, RateLimitConfig rateLimits,
                         HttpsConfig https, int tenantSpares, boolean emergencyAccess, MetricsConfig metrics,
                         CatalogStart catalogStart, MailConfig mail) {
        public static Tuning from(Map<String, String> env) {
            int poolSize = intSetting(env, "SILO_TENANT_POOL_SIZE", 4, 1, 50);
            int hashingThreads = intSetting(env, "SILO_HASHING_THREADS", Math.max(1, Runtime.getRuntime().availableProcessors() - 1), 1, 256);
            return new Tuning(
                    intSetting(env, "SILO_RETENTION_DAYS", 7, 0, 3650),
                    intSetting(env, "SILO_SECRET_ROTATION_DAYS", 90, 1, 3650),
                    poolSize,
                    intSetting(env, "SILO_TENANT_POOL_IDLE_SECONDS", 60, 10, 86400),
                    intSetting(env, "SILO_TENANT_CONNECTIONS", 64, poolSize, 10000),
                    intSetting(env, "SILO_TENANT_CONNECTION_WAIT_MS", 3000, 250, 60000),
                    intSetting(env, "SILO_BCRYPT_COST", 12, 10, 16),
                    intSetting(env, "SILO_PASSWORD_MIN_LENGTH", 12, 8, 72),
                    intSetting(env, "SILO_ACCESS_TOKEN_MINUTES", 15, 1, 1440),
                    intSetting(env, "SILO_REFRESH_TOKEN_DAYS", 30, 1, 365),
                    intSetting(env, "SILO_LOGIN_MAX_FAILURES", 5, 1, 1000),
                    intSetting(env, "SILO_LOGIN_WINDOW_MINUTES", 15, 1, 1440),
                    hashingThreads,
                    intSetting(env, "SILO_HASHING_QUEUE", 4 * hashingThreads, 0, 10000),
                    connectionLimits(env),
                    intSetting(env, "SILO_SHUTDOWN_DRAIN_SECONDS", defaultDrainSeconds(env), 0, 60),
                    intSetting(env, "SILO_WAL_KEEP_MB", 4096, 64, 1_048_576),
                    intSetting(env, "SILO_BASE_BACKUP_HOURS", 24, 0, 8760),
                    intSetting(env, "SILO_BACKUP_RETENTION_DAYS", 7, 1, 3650),
                    trustedProxies(env),
                    intSetting(env, "SILO_BACKUP_DRILL_DAYS", 7, 0, 3650),
                    onOffSetting(env, "SILO_BACKUP_SYNCHRONOUS", false),
                    intSetting(env, "SILO_BACKUP_SYNCHRONOUS_WAIT_SECONDS", 10, 1, 3600),
                    onOffSetting(env, "SILO_BACKUP_STREAMING", true),
                    intSetting(env, "SILO_TENANT_BACKUP_HOURS", 24, 1, 24 * 366),
                    intSetting(env, "SILO_BACKUP_CONCURRENCY", 2, 1, 64),
                    rateLimits(env),
                    https(env),
                    intSetting(env, "SILO_TENANT_SPARES", 2, 0, 50),
                    trueFalseSetting(env, "SILO_EMERGENCY_ACCESS", false),
                    metrics(env),
                    new CatalogStart(onOffSetting(env, "SILO_MIGRATE_AT_START", !env.containsKey("DYNO")),
                            Duration.ofSeconds(intSetting(env, "SILO_CATALOG_WAIT_SECONDS", 20, 0, 3600))),
                    MailConfig.from(env));
        }

        static MetricsConfig metrics(Map<String, String> env) {
            String port = env.get("SILO_METRICS_PORT");
            OptionalInt metricsPort = OptionalInt.empty();
            if (port != null && !port.isBlank() && !port.strip().equalsIgnoreCase("off")) {
                try {
                    int parsed = Integer.parseInt(port.strip());
                    if (parsed < 0 || parsed > 65535) {
                        throw new NumberFormatException();
                    }
                    metricsPort = OptionalInt.of(parsed);
                } catch (NumberFormatException e) {
                    throw new ConfigException("SILO_METRICS_PORT", "expected a port number from 0 to 65535 (0 picks a free one) "
                            + "or off, got '" + port + "'");
                }
            }
            return new MetricsConfig(metricsPort, trueFalseSetting(env, "SILO_METRICS_TENANT_LABELS", false));
        }

        /**
         * Certificate files, or a generated certificate, and whether plain HTTP is refused. {@code SILO_REQUIRE_HTTPS}
         * defaults to on where {@code DYNO} is set: on Heroku the router terminates TLS and says so in
         * {@code X-Forwarded-Proto}, so a plain-HTTP request there is a client that typed {@code http://}.
         */
        static HttpsConfig https(Map<String, String> env) {
            Optional<Path> certificate = pathSetting(env, "SILO_TLS_CERT_FILE");
            Optional<Path> key = pathSetting(env, "SILO_TLS_KEY_FILE");
            if (certificate.isPresent() && key.isEmpty()) {
                throw new ConfigException("SILO_TLS_KEY_FILE", "required with SILO_TLS_CERT_FILE: set both (PEM certificate "
                        + "chain and its PKCS#8 private key) or neither");
            }
            if (key.isPresent() && certificate.isEmpty()) {
                throw new ConfigException("SILO_TLS_CERT_FILE", "required with SILO_TLS_KEY_FILE: set both (PEM certificate "
                        + "chain and its PKCS#8 private key) or neither");
            }
            String mode = Optional.ofNullable(env.get("SILO_TLS")).map(String::strip).orElse("");
            boolean selfSigned = switch (mode.toLowerCase(java.util.Locale.ROOT)) {
                case "" , "off" -> false;
                case "self-signed" -> true;
                default -> throw new ConfigException("SILO_TLS", "expected self-signed or off, got '" + mode
                        + "' (for a real certificate set SILO_TLS_CERT_FILE and SILO_TLS_KEY_FILE)");
            };
            if (selfSigned && certificate.isPresent()) {
                throw new ConfigException("SILO_TLS", "self-signed generates a certificate; unset it to serve the one in "
                        + "SILO_TLS_CERT_FILE");
            }
            boolean requireHttps = trueFalseSetting(env, "SILO_REQUIRE_HTTPS", env.containsKey("DYNO"));
            int reloadSeconds = intSetting(env, "SILO_TLS_RELOAD_SECONDS", 5, 1, 3600);
            return new HttpsConfig(certificate, key, selfSigned, requireHttps, Duration.ofSeconds(reloadSeconds));
        }

        private static Optional<Path> pathSetting(Map<String, String> env, String name) {
            String value = env.get(name);
            if (value == null || value.isBlank()) {
                return Optional.empty();
            }
            try {
                return Optional.of(Path.of(value.strip()).toAbsolutePath().normalize());
            } catch (InvalidPathException e) {
                throw new ConfigException(name, "not a valid path");
            }
        }

        private static RateLimitConfig rateLimits(Map<String, String> env) {
            try {
                return RateLimitConfig.from(env);
            } catch (RateLimitConfig.Invalid e) {
                throw new ConfigException(e.setting(), e.getMessage());
            }
        }

        private static TrustedProxies trustedProxies(Map<String, String> env) {
            try {
                return TrustedProxies.parse(env.get("SILO_TRUSTED_PROXIES"));
            } catch (IllegalArgumentException e) {
                throw new ConfigException("SILO_TRUSTED_PROXIES", e.getMessage());
            }
        }

        private static ConnectionLimits connectionLimits(Map<String, String> env) {
            ConnectionLimits defaults = ConnectionLimits.defaults();
            int max = intSetting(env, "SILO_MAX_CONNECTIONS", defaults.maxConnections(), 16, 1_000_000);
            return new ConnectionLimits(max,
                    intSetting(env, "SILO_MAX_CONNECTIONS_PER_ADDRESS", Math.min(max, defaults.maxConnectionsPerAddress()), 1, max),
                    Duration.ofSeconds(intSetting(env, "SILO_HEADER_TIMEOUT_SECONDS", (int) defaults.headerTimeout().toSeconds(), 1, 300)),
                    Duration.ofSeconds(intSetting(env, "SILO_IDLE_TIMEOUT_SECONDS", (int) defaults.idleTimeout().toSeconds(), 1, 3600)));
        }

        /**
         * 5 s on a platform that routes traffic to the node (Heroku and its like set {@code PORT}, Heroku also
         * {@code DYNO}; Kubernetes sets {@code KUBERNETES_SERVICE_HOST}): long enough for the router to see
         * readiness fail and stop sending requests. 0 elsewhere, so Ctrl-C on a workstation stops at once.
         */
        static int defaultDrainSeconds(Map<String, String> env) {
            return env.containsKey("PORT") || env.containsKey("DYNO") || env.containsKey("KUBERNETES_SERVICE_HOST") ? 5 : 0;
        }
    }

    private static boolean onOffSetting(Map<String, String> env, String name, boolean fallback) {
        String value = env.get(name);
        if (value == null || value.isBlank()) {
            return fallback;
        }
        return switch (value.strip().toLowerCase(java.util.Locale.ROOT)) {
            case "on" -> true;
            case "off" -> false;
            default -> throw new ConfigException(name, "expected on or off, got '" + value + "'");
        };
    }

    private static boolean trueFalseSetting(Map<String, String> env, String name, boolean fallback) {
        String value = env.get(name);
        if (value == null || value.isBlank()) {
            return fallback;
        }
        return switch (value.strip().toLowerCase(java.util.Locale.ROOT)) {
            case "true", "on" -> true;
            case "false", "off" -> false;
            default -> throw new ConfigException(name, "expected true or false, got '" + value + "'");
        };
    }

    private static int intSetting(Map<String, String> env, String name, int fallback, int min, int max) {
        String value = env.get(name);
        if (value == null || value.isBlank()) {
            return fallback;
        }
        try {
            int parsed = Integer.parseInt(value.strip());
            if (parsed >= min && parsed <= max) {
                return parsed;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new ConfigException(name, "expected a whole number from " + min + " to " + max + ", got '" + value + "'");
    }

    private record Setting(String name, String value) {}

    private static Setting first(String flagValue, String flagName, Map<String, String> env, String... envNames) {
        if (flagValue != null) {
            return new Setting(flagName, flagValue);
        }
        for (String name : envNames) {
            String value = env.get(name);
            if (value != null && !value.isBlank()) {
                return new Setting(name, value);
            }
        }
        return null;
    }

    private static int parsePort(Setting setting) {
        if (setting == null) {
            return DEFAULT_PORT;
        }
        try {
            int port = Integer.parseInt(setting.value().strip());
            if (port >= 0 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new ConfigException(setting.name(), "expected a port number from 0 to 65535, got '" + setting.value() + "'");
    }

    private static Path parseDataDir(Setting setting) {
        Path dir;
        try {
            dir = Path.of(setting == null ? "silo-data" : setting.value()).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            throw new ConfigException(setting == null ? "SILO_DATA_DIR" : setting.name(), "not a valid path");
        }
        String name = setting == null ? "SILO_DATA_DIR" : setting.name();
        // Only `silo serve` and `silo init` create the directory (SiloCore.open); resolving the configuration of
        // any other command must not leave one behind, so here it is only checked that it could be created.
        if (Files.exists(dir)) {
            if (!Files.isDirectory(dir) || !Files.isWritable(dir)) {
                throw new ConfigException(name, dir + " is not a writable directory");
            }
            return dir;
        }
        Path existing = dir.getParent();
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null || !Files.isDirectory(existing) || !Files.isWritable(existing)) {
            throw new ConfigException(name, "cannot create directory " + dir + " (" + existing
                    + " is not a writable directory); expected a writable directory");
        }
        return dir;
    }

    private static URI parsePublicUrl(Setting setting) {
        try {
            URI uri = new URI(setting.value().strip());
            if (("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) && uri.getHost() != null
                    && uri.getRawQuery() == null && uri.getRawFragment() == null) {
                String text = uri.toString();
                return URI.create(text.endsWith("/") ? text.substring(0, text.length() - 1) : text);
            }
        } catch (URISyntaxException e) {
            // reported below
        }
        throw new ConfigException(setting.name(), "expected an absolute http(s) URL such as https://api.example.com");
    }

    private static Optional<String> readMasterKey(Map<String, String> env) {
        String direct = env.get("SILO_MASTER_KEY");
        if (direct != null && !direct.isBlank()) {
            return Optional.of(direct.strip());
        }
        String file = env.get("SILO_MASTER_KEY_FILE");
        if (file != null && !file.isBlank()) {
            try {
                return Optional.of(Files.readString(Path.of(file)).strip());
            } catch (Exception e) {
                throw new ConfigException("SILO_MASTER_KEY_FILE", "cannot read " + file + " (" + e.getClass().getSimpleName() + ")");
            }
        }
        return Optional.empty();
    }
}
