package bench;

import at.favre.lib.crypto.bcrypt.BCrypt;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.MACVerifier;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import org.postgresql.PGConnection;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

final class Raw {
    /**
     * The rate limiter alone, in memory, as a {@code /t/{tenant}/me} request uses it: one token from the address's
     * bucket and one from the tenant's (Silo's own {@code RateLimiter}, limits never reached), on one thread.
     */
    static Measured rateLimiter(Options options) throws Exception {
        var limiter = new dev.silo.platform.ratelimit.RateLimiter(Optional.empty());
        var limit = dev.silo.platform.ratelimit.RateLimit.parse(RateLimitRows.HIGH_RATE_LIMITS.get("SILO_RATE_LIMIT_IP")).orElseThrow();
        CpuBound result = CpuBound.run(1, options.warmup(), options.measure(), () -> {
            boolean allowed = limiter.tryConsume("ip:127.0.0.1", limit).allowed()
                    & limiter.tryConsume("tenant:bench-00001", limit).allowed();
            if (!allowed) {
                throw new IllegalStateException("a limit of " + limit.spec() + " refused");
            }
            return 1;
        });
        return Measured.throughput("two bucket checks", result.rate(), "/s", null,
                result.cpu() + String.format(Locale.ROOT, " (%.0f ns per request)", 1e9 / result.rate()));
    }

    /** bcrypt verifications per second at Silo's cost, with the library Silo uses. */
    static Measured bcrypt(Options options, int threads) throws Exception {
        char[] password = Bench.PASSWORD.toCharArray();
        byte[] hash = BCrypt.withDefaults().hash(options.bcryptCost(), password);
        BCrypt.Verifyer verifyer = BCrypt.verifyer();
        CpuBound result = CpuBound.run(threads, options.warmup(), options.measure(), () -> {
            if (!verifyer.verify(password, hash).verified) {
                throw new IllegalStateException("bcrypt did not verify its own hash");
            }
            return 1;
        });
        return Measured.throughput("bcrypt verify, " + threads + " thread" + (threads == 1 ? "" : "s"),
                result.rate(), "/s", null, result.cpu() + " (at.favre bcrypt, cost " + options.bcryptCost() + ")");
    }

    /**
     * HS256 verifications per second with Nimbus as Silo would do them: parse, check alg, verify the MAC
     * with a reused verifier, read the claims, check expiry and issuer.
     */
    static Measured hs256(Options options, int threads) throws Exception {
        byte[] secret = new byte[64];
        SecureRandom random = new SecureRandom();
        for (int i = 0; i < secret.length; i++) {
            secret[i] = (byte) "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".charAt(random.nextInt(64));
        }
        String issuer = "http://localhost:8080/t/acme";
        Instant now = Instant.now();
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .issuer(issuer).audience("silo").subject(UUID.randomUUID().toString())
                .claim("tid", UUID.randomUUID().toString()).claim("role", "member")
                .claim("sid", UUID.randomUUID().toString())
                .issueTime(Date.from(now)).notBeforeTime(Date.from(now))
                .expirationTime(Date.from(now.plus(15, ChronoUnit.MINUTES))).jwtID(UUID.randomUUID().toString())
                .build();
        SignedJWT jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID("k1").type(JOSEObjectType.JWT).build(), claims);
        jwt.sign(new MACSigner(secret));
        String token = jwt.serialize();
        ThreadLocal<MACVerifier> verifiers = ThreadLocal.withInitial(() -> {
            try {
                return new MACVerifier(secret);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        CpuBound result = CpuBound.run(threads, options.warmup(), options.measure(), () -> {
            SignedJWT parsed = SignedJWT.parse(token);
            if (!JWSAlgorithm.HS256.equals(parsed.getHeader().getAlgorithm()) || !parsed.verify(verifiers.get())) {
                throw new IllegalStateException("HS256 token did not verify");
            }
            JWTClaimsSet set = parsed.getJWTClaimsSet();
            if (set.getExpirationTime().getTime() < System.currentTimeMillis() || !issuer.equals(set.getIssuer())) {
                throw new IllegalStateException("claims check failed");
            }
            return set.getSubject().length();
        });
        return Measured.throughput("HS256 verify, " + threads + " thread" + (threads == 1 ? "" : "s"),
                result.rate(), "/s", null, result.cpu() + " (Nimbus JOSE+JWT: parse, MAC, claims, expiry)");
    }

    static void pgbenchInit(Options options, SiloProcess silo, Postgres postgres, Path pgbench) throws Exception {
        try (Statement statement = postgres.connection().createStatement()) {
            // A database of its own, so the catalog stays untouched.
            statement.execute("CREATE DATABASE bench");
        }
        try (Connection bench = Postgres.open(silo, "bench"); Statement statement = bench.createStatement()) {
            statement.execute("""
                    CREATE TABLE bench_insert (
                        id uuid PRIMARY KEY,
                        body jsonb NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now()
                    )
                    """);
        }
        Files.writeString(insertScript(options), """
                INSERT INTO bench_insert (id, body) VALUES (gen_random_uuid(), '{"title": "bench record", "n": 1}');
                """);
        // Server-side data generation (G): much faster than streaming rows over TLS.
        Tool.run(pgbench, List.of("-i", "-q", "-I", "dtGvp", "-s", Integer.toString(options.pgbenchScale())),
                Postgres.libpqEnvironment(silo), Duration.ofMinutes(10));
        // For pgbench -C: a role that logs in like a Silo tenant role, with a SCRAM verifier of 16 iterations
        // (Silo's ScramVerifier; the superuser's has PostgreSQL's default 4,096, which both sides of every
        // login would otherwise pay in PBKDF2).
        byte[] secret = new byte[24];
        new java.security.SecureRandom().nextBytes(secret);
        churnPassword = java.util.HexFormat.of().formatHex(secret);
        try (Connection bench = Postgres.open(silo, "bench"); Statement statement = bench.createStatement()) {
            statement.execute("SET scram_iterations = 16");
            statement.execute("CREATE ROLE " + CHURN_ROLE + " LOGIN PASSWORD '" + churnPassword + "'");
            statement.execute("GRANT SELECT ON pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history TO "
                    + CHURN_ROLE);
        }
    }

    static final String CHURN_ROLE = "bench_churn";
    private static volatile String churnPassword;

    static Path insertScript(Options options) {
        return options.work().resolve("insert.sql");
    }

    private static final Pattern TPS = Pattern.compile("tps = ([0-9.]+) \\((?:without initial connection time|including reconnection times)\\)");
    private static final Pattern FAILED = Pattern.compile("number of failed transactions: (\\d+)");

    /** A warm-up run, then a measured run with sampled per-transaction logs for p50/p99. */
    static Measured pgbench(Options options, SiloProcess silo, Path pgbench, String name, List<String> workload)
            throws Exception {
        Map<String, String> env = Postgres.libpqEnvironment(silo);
        if (workload.contains("-C")) {
            env.put("PGUSER", CHURN_ROLE);
            env.put("PGPASSWORD", churnPassword);
        }
        List<String> common = new ArrayList<>(workload);
        common.addAll(List.of("-n", "-c", Integer.toString(options.pgbenchClients()), "-j", "2"));
        List<String> warm = new ArrayList<>(common);
        warm.addAll(List.of("-T", Integer.toString(options.pgbenchSeconds(options.warmup()))));
        Tool.run(pgbench, warm, env, Duration.ofMinutes(5));

        Path logDir = options.work().resolve("pgbench-" + name);
        Files.createDirectories(logDir);
        List<String> measured = new ArrayList<>(common);
        measured.addAll(List.of("-T", Integer.toString(options.pgbenchSeconds(options.measure())),
                "-l", "--sampling-rate=0.05", "--log-prefix=" + logDir.resolve("log")));
        Cpu before = Cpu.now();
        String output = Tool.run(pgbench, measured, env, Duration.ofMinutes(5));
        long ended = System.nanoTime();
        // pgbench's backends exit as it disconnects; a backend reaped while the snapshot is being taken was
        // neither among the postmaster's children nor yet in its reaped time, and its CPU showed as "other".
        Thread.sleep(500);
        Cpu after = Cpu.now().endedAt(ended);
        Matcher tps = TPS.matcher(output);
        if (!tps.find()) {
            throw new Fatal("cannot find the tps line in pgbench's output:\n" + output);
        }
        Matcher failed = FAILED.matcher(output);
        if (failed.find() && Long.parseLong(failed.group(1)) > 0) {
            throw new Fatal("pgbench reported " + failed.group(1) + " failed transactions");
        }
        long[] latencies = new long[1 << 16];
        int count = 0;
        try (Stream<Path> files = Files.list(logDir)) {
            for (Path file : files.toList()) {
                for (String line : Files.readAllLines(file)) {
                    String[] fields = line.split(" ");
                    if (fields.length < 3) {
                        continue;
                    }
                    if (count == latencies.length) {
                        latencies = Arrays.copyOf(latencies, count * 2);
                    }
                    latencies[count++] = Long.parseLong(fields[2]) * 1000; // µs -> ns
                }
            }
        }
        String label = workload.contains("-C") ? "`pgbench -C -S`"
                : workload.contains("-S") ? "`pgbench -S`" : "INSERT (pgbench -f)";
        return Measured.throughput(label, Double.parseDouble(tps.group(1)), "tps", Latencies.of(latencies, count),
                options.pgbenchClients() + (workload.contains("-C")
                        ? " clients, a new TLS connection per select, as a role with a 16-iteration SCRAM verifier like Silo's tenant roles; "
                        : " clients, prepared, TLS; ") + Cpu.used(before, after));
    }

    /**
     * What provisioning costs PostgreSQL alone: a LOGIN role with a SCRAM password, a database owned by it,
     * CONNECT revoked from PUBLIC (fsync on, WAL archived, like Silo's tenants).
     */
    static Measured provisioning(Options options, Postgres postgres) throws SQLException {
        int n = options.rawProvisionDatabases();
        long[] latencies = new long[n];
        Connection connection = postgres.connection();
        SecureRandom random = new SecureRandom();
        Cpu before = Cpu.now();
        try (Statement statement = connection.createStatement()) {
            for (int i = 0; i < n; i++) {
                String name = "bench_raw_" + i;
                byte[] bytes = new byte[24];
                random.nextBytes(bytes);
                long t0 = System.nanoTime();
                statement.execute("CREATE ROLE " + name + " LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION");
                connection.unwrap(PGConnection.class).alterUserPassword(name,
                        Base64.getUrlEncoder().withoutPadding().encodeToString(bytes).toCharArray(), "scram-sha-256");
                statement.execute("CREATE DATABASE " + name + " OWNER " + name);
                statement.execute("REVOKE CONNECT, TEMPORARY ON DATABASE " + name + " FROM PUBLIC");
                latencies[i] = System.nanoTime() - t0;
            }
        }
        Cpu after = Cpu.now();
        return Measured.latency("SQL only", Latencies.of(latencies, n), "CREATE ROLE + password + CREATE DATABASE + REVOKE, "
                + "no schema migration; " + Cpu.used(before, after));
    }
}
