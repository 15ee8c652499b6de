package bench;

import com.fasterxml.jackson.databind.JsonNode;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Row 12 (issues 12 and 13): backup throughput against a plain copy of the same bytes, in the same run.
 * <ul>
 *   <li>a base backup ({@code POST /admin/backups}: its manifest's bytes over its start-to-stop time) against
 *       {@code cp -r} of the embedded PostgreSQL's data directory (goal ≥ 0.5);</li>
 *   <li>a full {@code silo restore} of the server (all its tenants) from that store into a new directory, its
 *       base-backup bytes over its time, against the same {@code cp -r};</li>
 *   <li>a tenant's daily logical backup ({@code silo tenants backup}, the command's time less that of a no-op
 *       command of the same JVM, {@code silo tenants backups}) against a binary {@code COPY} of the same tables
 *       (pgjdbc's CopyManager, as superuser over TLS), both over the bytes the COPY produced.</li>
 * </ul>
 */
final class BackupRows {
    private final Harness harness;
    private final Options options;

    BackupRows(Harness harness) {
        this.harness = harness;
        this.options = harness.options();
    }

    void measure(Api api, Features features) {
        List<Feature> needs = List.of(Feature.TENANTS, Feature.TENANT_ADMINS, Feature.LOGIN, Feature.RECORDS);
        var unavailable = features.operatorKey() == null ? java.util.Optional.of(Measured.notYet("no operator key"))
                : harness.unavailable(features, needs);
        if (unavailable.isPresent()) {
            harness.add(harness.row("12", "backups vs plain copies", unavailable.get(), unavailable.get()));
            return;
        }
        SiloProcess silo = harness.silo();
        String key = features.operatorKey();
        String[] tenant = new String[2]; // slug, database
        int records = options.quick() ? 2_000 : 50_000;
        // attempt answers null when the setup succeeded, the error (already recorded) when it did not
        Measured setup = harness.attempt("row 12 setup: a tenant of " + records + " records of ~1 KB", () -> {
            prepare(api, features, key, records, tenant);
            return null;
        });
        if (setup != null) {
            harness.add(harness.row("12", "backups vs plain copies", setup, setup));
            return;
        }
        double[] base = new double[2]; // bytes, seconds
        Measured backup = harness.attempt("base backup", () -> baseBackup(api, key, base));
        Measured copy = harness.attempt("cp -r of the PostgreSQL data directory", () -> copyDataDirectory(silo));
        harness.add(harness.row("12", "base backup (`POST /admin/backups`) MB/s vs `cp -r` of the same data directory (goal ≥ 0.5)",
                backup, copy));
        int tenants = countTenants(api, key);
        Measured restore = backup.ok() ? harness.attempt("silo restore", () -> fullRestore(silo, base[0], tenants)) : backup;
        harness.add(harness.row("12", "full `silo restore` (" + tenants + " tenants) MB/s vs `cp -r` of the data directory",
                restore, copy));
        double[] copied = new double[2]; // bytes, seconds
        Measured binaryCopy = harness.attempt("binary COPY of the tenant's tables", () -> binaryCopy(silo, tenant[1], copied));
        Measured daily = binaryCopy.ok() ? harness.attempt("silo tenants backup", () -> dailyBackup(silo, tenant[0], copied[0]))
                : binaryCopy;
        harness.add(harness.row("12", "a tenant's daily backup (`silo tenants backup`, " + records + " records) MB/s vs binary "
                + "`COPY` of the same tables", daily, binaryCopy));
    }

    /** A tenant with {@code records} records of ~1 KB, written by 16 connections. */
    private void prepare(Api api, Features features, String key, int records, String[] tenant) throws Exception {
        String slug = "bench-backup-" + UUID.randomUUID().toString().substring(0, 6);
        JsonNode created = api.expect("POST", "/admin/tenants", Map.of("slug", slug), key);
        tenant[0] = slug;
        tenant[1] = "t_" + created.path("id").asText().replace("-", "");
        BenchTenant prepared = features.prepareTenant(slug, 0);
        String path = "/t/" + slug + "/collections/" + Bench.COLLECTION;
        api.expect("PUT", path, Map.of(), prepared.token());
        String padding = "x".repeat(1000);
        AtomicInteger next = new AtomicInteger();
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<?>> writers = new ArrayList<>();
            for (int w = 0; w < 16; w++) {
                writers.add(pool.submit(() -> {
                    for (int n = next.getAndIncrement(); n < records; n = next.getAndIncrement()) {
                        api.expect("POST", path + "/records", Map.of("n", n, "padding", padding), prepared.token());
                    }
                    return null;
                }));
            }
            for (Future<?> writer : writers) {
                try {
                    writer.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    throw e.getCause() instanceof Fatal fatal ? fatal : new Fatal("writing records: " + e.getCause());
                }
            }
        }
    }

    private static Measured baseBackup(Api api, String key, double[] base) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(30);
        Reply taken;
        // The node may be taking a base backup of its own (the first after start): wait for that one to end.
        while ((taken = api.call("POST", "/admin/backups", null, key)).status() == 409
                && taken.body().contains("backup-running") && System.nanoTime() < deadline) {
            Thread.sleep(500);
        }
        if (!taken.success()) {
            throw new Fatal("POST /admin/backups answered " + taken.status() + ": " + Format.abbreviate(taken.body()));
        }
        String id = taken.json().path("id").asText();
        JsonNode last;
        while (!id.equals((last = api.expect("GET", "/admin/backups", null, key).path("base_backups").path("last"))
                .path("id").asText())) {
            if (System.nanoTime() > deadline) {
                throw new Fatal("base backup " + id + " did not finish within 30 minutes");
            }
            Thread.sleep(200);
        }
        double seconds = Duration.between(Instant.parse(last.path("start_time").asText()),
                Instant.parse(last.path("stop_time").asText())).toMillis() / 1000.0;
        base[0] = last.path("bytes").asDouble();
        base[1] = seconds;
        return megabytesPerSecond("", base[0], seconds, last.path("files").asInt() + " files, " + mb(base[0])
                + " in " + String.format(Locale.ROOT, "%.1f s", seconds) + " (manifest start to stop time)");
    }

    private Measured copyDataDirectory(SiloProcess silo) throws Exception {
        Path source = silo.dataDir().resolve("postgres/data");
        Path target = options.work().resolve("cp-copy");
        try {
            long started = System.nanoTime();
            Tool.run(Path.of("/bin/cp"), List.of("-r", source.toString(), target.toString()), Map.of(), Duration.ofMinutes(30));
            double seconds = (System.nanoTime() - started) / 1e9;
            double bytes = size(target);
            return megabytesPerSecond("`cp -r`", bytes, seconds, mb(bytes) + " in " + String.format(Locale.ROOT, "%.1f s", seconds)
                    + " (the live data directory, page cache warm, same disk)");
        } finally {
            delete(target);
        }
    }

    private Measured fullRestore(SiloProcess silo, double baseBytes, int tenants) throws Exception {
        Path target = options.work().resolve("data-restored"); // bench/run stops a postmaster left under data*/
        try {
            long started = System.nanoTime();
            command(silo, Duration.ofMinutes(30), "restore", "--from", silo.dataDir().resolve("backups/store").toUri().toString(),
                    "--data-dir", target.toString());
            double seconds = (System.nanoTime() - started) / 1e9;
            return megabytesPerSecond("", baseBytes, seconds, String.format(Locale.ROOT,
                    "%d tenants, the base backup's %s (and the WAL since) in %.1f s, JVM start included", tenants, mb(baseBytes), seconds));
        } finally {
            delete(target);
        }
    }

    private Measured binaryCopy(SiloProcess silo, String database, double[] copied) throws Exception {
        try (Connection connection = Postgres.open(silo, database)) {
            List<String> tables = new ArrayList<>();
            try (Statement statement = connection.createStatement();
                 ResultSet rs = statement.executeQuery("SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
                         + "ORDER BY tablename")) {
                while (rs.next()) {
                    tables.add(rs.getString(1));
                }
            }
            CopyManager copy = connection.unwrap(PGConnection.class).getCopyAPI();
            Counting sink = new Counting();
            for (String table : tables) { // a warm-up pass: the backup that follows reads a warm cache too
                copy.copyOut("COPY " + table + " TO STDOUT (FORMAT binary)", OutputStream.nullOutputStream());
            }
            long started = System.nanoTime();
            for (String table : tables) {
                copy.copyOut("COPY " + table + " TO STDOUT (FORMAT binary)", sink);
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            copied[0] = sink.bytes;
            copied[1] = seconds;
            return megabytesPerSecond("binary `COPY`", sink.bytes, seconds, tables.size() + " tables, " + mb(sink.bytes)
                    + String.format(Locale.ROOT, " in %.2f s", seconds) + " (CopyManager, superuser, TLS, to a byte counter)");
        }
    }

    private Measured dailyBackup(SiloProcess silo, String slug, double bytes) throws Exception {
        long t0 = System.nanoTime();
        command(silo, Duration.ofMinutes(5), "tenants", "backups", slug, "--data-dir", silo.dataDir().toString());
        long t1 = System.nanoTime();
        String output = command(silo, Duration.ofMinutes(30), "tenants", "backup", slug, "--data-dir", silo.dataDir().toString(),
                "--json");
        long t2 = System.nanoTime();
        double open = (t1 - t0) / 1e9;
        double seconds = Math.max(0.001, (t2 - t1) / 1e9 - open);
        JsonNode info = Bench.JSON.readTree(output.substring(output.indexOf('{')));
        return megabytesPerSecond("", bytes, seconds, String.format(Locale.ROOT, "%.2f s: the command's %.2f s less %.2f s for "
                + "`silo tenants backups` (JVM start, catalog); %s stored; MB/s over the COPY's bytes", seconds, (t2 - t1) / 1e9,
                open, mb(info.path("stored_bytes").asDouble())));
    }

    /** Runs {@code silo ARGS} with the JVM options of ./silo, against the main Silo's data directory and master key. */
    private String command(SiloProcess silo, Duration timeout, String... args) throws Exception {
        List<String> command = Machine.javaCommand(options.jar(), args);
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        Map<String, String> env = builder.environment();
        SiloProcess.CALLER_SETTINGS.forEach(env::remove);
        env.put("SILO_MASTER_KEY_FILE", silo.dataDir().resolve("master.key").toString());
        env.put("SILO_LOG_FORMAT", "json");
        Process process = builder.start();
        byte[] out = process.getInputStream().readAllBytes();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new Fatal("silo " + String.join(" ", args) + " did not finish within " + Format.seconds(timeout));
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (process.exitValue() != 0) {
            throw new Fatal("silo " + args[0] + " exited with " + process.exitValue() + ": " + SiloProcess.tail(text, 8));
        }
        return text;
    }

    private static int countTenants(Api api, String key) {
        int count = 0;
        String cursor = null;
        do {
            JsonNode page = api.expect("GET", "/admin/tenants?limit=500" + (cursor == null ? "" : "&cursor=" + cursor), null, key);
            count += page.path("tenants").size();
            cursor = page.path("next_cursor").isNull() || page.path("next_cursor").isMissingNode() ? null
                    : java.net.URLEncoder.encode(page.path("next_cursor").asText(), StandardCharsets.UTF_8);
        } while (cursor != null);
        return count;
    }

    private static Measured megabytesPerSecond(String label, double bytes, double seconds, String notes) {
        double rate = bytes / 1e6 / seconds;
        return new Measured(label, rate, "MB/s", (label.isEmpty() ? "" : label + ": ") + Format.rate(rate) + " MB/s", notes, null, null);
    }

    private static String mb(double bytes) {
        return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
    }

    private static long size(Path directory) throws IOException {
        try (Stream<Path> files = Files.walk(directory)) {
            return files.filter(Files::isRegularFile).mapToLong(file -> file.toFile().length()).sum();
        }
    }

    private static void delete(Path directory) throws IOException {
        if (!Files.exists(directory)) {
            return;
        }
        try (Stream<Path> files = Files.walk(directory)) {
            for (Path file : files.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(file);
            }
        }
    }

    /** Counts what the COPY writes, keeping none of it. */
    private static final class Counting extends OutputStream {
        long bytes;

        @Override
        public void write(int b) {
            bytes++;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            bytes += len;
        }
    }
}
