package bench;

import com.fasterxml.jackson.databind.JsonNode;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Row 19 (issue 18, "Benchmark"): a tenant move under writes. The {@link Cluster}'s tenant gets N records (full:
 * 10,000, quick: 500, {@code --move-records}), the move target's embedded PostgreSQL is registered as a placement
 * ({@code silo placements add}, the admin URL passed in an argument file of mode 0600, never on a command line), and
 * while one writer creates records one at a time, in turn on every node, 20 ms apart, {@code POST
 * /admin/tenants/{slug}/move} on node A moves the tenant there; {@code GET /admin/jobs/{id}} is polled every 50 ms
 * until the job ends. The writer's longest pause is the time between two acknowledged writes (201) around the
 * freeze; its 503 {@code tenant-moving} answers (and {@code database-unavailable}, a write caught by the switch) are
 * the pause, not errors, and it tries again 20 ms later. Any other answer is an error.
 */
final class MoveRows {
    private static final long WRITE_SPACING_MILLIS = 20;
    /** The issue's "a few seconds" of write pause, as a number to hold the pause against. */
    private static final double PAUSE_GOAL_SECONDS = 3;

    private final Harness harness;
    private final Options options;

    MoveRows(Harness harness) {
        this.harness = harness;
        this.options = harness.options();
    }

    /** What one move gave. */
    private record Outcome(double moveSeconds, double pauseSeconds, double baselineGapSeconds, JsonNode job, int acknowledged,
                           int refusedMoving, int refusedSwitch, String cpu) {}

    void measure(Cluster cluster) {
        int records = options.moveRecords();
        Outcome[] outcome = new Outcome[1];
        Measured attempt = harness.attempt("tenant move of " + records + " records under writes", () -> {
            outcome[0] = move(cluster, records);
            return null;
        });
        String what = String.format(Locale.ROOT, "%,d records", records);
        if (outcome[0] == null) {
            Measured failed = attempt != null ? attempt : Measured.error("not measured");
            harness.add(new Row("19", "tenant move under writes over " + cluster.nodes().size() + " nodes (" + what
                    + "): longest write pause the writer saw", failed.cell(), "goal " + (int) PAUSE_GOAL_SECONDS + " s", "—",
                    failed.notes() == null ? "" : failed.notes()));
            return;
        }
        Outcome o = outcome[0];
        JsonNode result = o.job().path("result");
        String counts = o.acknowledged() + " writes acknowledged, " + o.refusedMoving() + " answered 503 tenant-moving, "
                + o.refusedSwitch() + " 503 database-unavailable";
        harness.add(new Row("19", "tenant move under writes over " + cluster.nodes().size() + " nodes (" + what
                + "): longest write pause the writer saw vs the issue's \"a few seconds\" (ratio: pause ÷ 3 s; ≤ 1.00 meets it)",
                String.format(Locale.ROOT, "%.2f s (the job's write_pause_ms: %s ms)", o.pauseSeconds(),
                        result.path("write_pause_ms").asText("?")),
                "goal " + (int) PAUSE_GOAL_SECONDS + " s",
                String.format(Locale.ROOT, "%.2f", o.pauseSeconds() / PAUSE_GOAL_SECONDS),
                "one writer, one record at a time, in turn on every node, " + WRITE_SPACING_MILLIS + " ms apart (503s tried "
                        + "again after " + WRITE_SPACING_MILLIS + " ms); pause = the longest time between two acknowledged "
                        + "writes around the move; longest gap before the move " + String.format(Locale.ROOT, "%.3f s",
                        o.baselineGapSeconds()) + "; " + counts));
        harness.add(new Row("19", "tenant move time (" + what + "; `POST /admin/tenants/{slug}/move` until its job "
                + "succeeded) vs its longest write pause (ratio: pause ÷ move time, the share of the move writes waited)",
                String.format(Locale.ROOT, "%.2f s (the job's move_ms: %s ms, %s catch-up rounds, %s record rows)",
                        o.moveSeconds(), result.path("move_ms").asText("?"), result.path("rounds").asText("?"),
                        result.path("rows").path("records").asText("?")),
                String.format(Locale.ROOT, "pause %.2f s", o.pauseSeconds()),
                String.format(Locale.ROOT, "%.2f", o.pauseSeconds() / o.moveSeconds()),
                "from node A's embedded PostgreSQL to another Silo's (`" + Cluster.TARGET_PLACEMENT + "`, same machine, "
                        + "TLS); during the move " + o.cpu()));
    }

    private Outcome move(Cluster cluster, int records) throws Exception {
        SiloProcess a = cluster.nodes().get(0);
        SiloProcess target = cluster.target();
        if (target == null) {
            throw new Fatal("no move target was started");
        }
        Features features = cluster.features();
        String key = features.operatorKey();
        BenchTenant tenant = features.tenant();
        Api nodeA = cluster.apis().get(0);
        addPlacement(a, target);

        String token = features.login(tenant.slug(), tenant.email());
        String recordsPath = "/t/" + tenant.slug() + "/collections/" + Bench.COLLECTION + "/records";
        int missing = Math.max(0, records - tenant.recordIds().size());
        harness.progress("row 19: creating " + missing + " records of ~250 bytes in " + tenant.slug() + " (4 client threads)");
        AtomicInteger made = new AtomicInteger();
        String text = "x".repeat(200);
        SiloRows.parallel(List.of(0, 1, 2, 3), part -> {
            for (int i = part; i < missing; i += 4) {
                Reply reply = nodeA.call("POST", recordsPath, Map.of("title", "move record " + i, "n", i, "text", text), token);
                if (!reply.success()) {
                    throw new Fatal("POST " + recordsPath + " answered " + reply.status() + ": " + Format.abbreviate(reply.body()));
                }
                int done = made.incrementAndGet();
                if (done % 2000 == 0) {
                    harness.progress("row 19: " + done + " of " + missing + " records");
                }
            }
            return part;
        });

        // The writer: acknowledged writes' times; 503 tenant-moving / database-unavailable are the pause.
        List<Long> acks = java.util.Collections.synchronizedList(new ArrayList<>());
        AtomicInteger refusedMoving = new AtomicInteger();
        AtomicInteger refusedSwitch = new AtomicInteger();
        AtomicReference<String> unexpected = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<Api> apis = cluster.apis();
        Thread writer = Thread.ofPlatform().name("bench-move-writer").start(() -> {
            for (long k = 0; !stop.get() && unexpected.get() == null; k++) {
                try {
                    Reply reply = apis.get((int) (k % apis.size())).call("POST", recordsPath,
                            Map.of("title", "written during the move", "n", k), token);
                    long at = System.nanoTime();
                    if (reply.status() == 201) {
                        acks.add(at);
                    } else if (reply.status() == 503 && reply.body().contains("tenant-moving")) {
                        refusedMoving.incrementAndGet();
                    } else if (reply.status() == 503 && reply.body().contains("database-unavailable")) {
                        refusedSwitch.incrementAndGet();
                    } else {
                        unexpected.compareAndSet(null, "a write answered " + reply.status() + ": " + Format.abbreviate(reply.body()));
                    }
                    Thread.sleep(WRITE_SPACING_MILLIS);
                } catch (InterruptedException e) {
                    return;
                } catch (RuntimeException e) {
                    unexpected.compareAndSet(null, "a write failed: " + e.getMessage());
                }
            }
        });
        long started;
        long done;
        JsonNode job;
        Cpu before;
        Cpu after;
        try {
            Thread.sleep(options.quick() ? 1000 : 3000); // the writer's gaps before the move, for comparison
            List<SiloProcess> counted = new ArrayList<>(cluster.nodes());
            counted.add(target); // its PostgreSQL receives the copy
            Cpu.init(counted.toArray(SiloProcess[]::new));
            before = Cpu.now();
            started = System.nanoTime();
            JsonNode accepted = nodeA.expect("POST", "/admin/tenants/" + tenant.slug() + "/move",
                    Map.of("to", Cluster.TARGET_PLACEMENT), key);
            String jobId = accepted.path("job").asText();
            long deadline = started + TimeUnit.MINUTES.toNanos(10);
            while (true) {
                job = nodeA.expect("GET", "/admin/jobs/" + jobId, null, key);
                if (!"running".equals(job.path("state").asText())) {
                    break;
                }
                if (System.nanoTime() > deadline) {
                    throw new Fatal("the move's job " + jobId + " was still running after 10 minutes (phase "
                            + job.path("phase").asText() + ")");
                }
                Thread.sleep(50);
            }
            done = System.nanoTime();
            after = Cpu.now();
            // Writes go on until a few are acknowledged after the move (at most 10 s).
            int atDone = countAfter(acks, done);
            long until = done + TimeUnit.SECONDS.toNanos(10);
            while (countAfter(acks, done) < atDone + 10 && System.nanoTime() < until && unexpected.get() == null) {
                Thread.sleep(50);
            }
        } finally {
            stop.set(true);
            writer.join(TimeUnit.SECONDS.toMillis(70));
            Cpu.init(cluster.nodes().toArray(SiloProcess[]::new));
        }
        if (unexpected.get() != null) {
            throw new Fatal(unexpected.get());
        }
        if (!"succeeded".equals(job.path("state").asText())) {
            throw new Fatal("the move's job ended " + job.path("state").asText() + ": " + Format.abbreviate(job.path("error").toString()));
        }
        JsonNode view = nodeA.expect("GET", "/admin/tenants/" + tenant.slug(), null, key);
        if (view.has("placement") && !Cluster.TARGET_PLACEMENT.equals(view.path("placement").asText())) {
            throw new Fatal("after the move the tenant is on placement " + view.path("placement").asText());
        }
        long[] times = acks.stream().mapToLong(Long::longValue).sorted().toArray();
        if (countAfter(acks, done) == 0) {
            throw new Fatal("no write was acknowledged after the move ended");
        }
        long pause = 0;
        long baseline = 0;
        for (int i = 1; i < times.length; i++) {
            long gap = times[i] - times[i - 1];
            if (times[i] >= started && times[i - 1] <= done) {
                pause = Math.max(pause, gap);
            } else if (times[i] < started) {
                baseline = Math.max(baseline, gap);
            }
        }
        return new Outcome((done - started) / 1e9, pause / 1e9, baseline / 1e9, job, times.length, refusedMoving.get(),
                refusedSwitch.get(), Cpu.used(before, after));
    }

    private static int countAfter(List<Long> acks, long at) {
        synchronized (acks) {
            return (int) acks.stream().filter(t -> t > at).count();
        }
    }

    /**
     * {@code silo placements add bench-target} on node A's data directory (a command reaches the running node's
     * PostgreSQL), with the target's embedded superuser as admin account, {@code verify-full} against its CA. The
     * arguments go in a 0600 argument file (picocli's {@code @file}), so the password is on no command line.
     */
    private void addPlacement(SiloProcess a, SiloProcess target) throws Exception {
        String adminUrl = "postgres://postgres:" + Cluster.encode(target.superuserPassword()) + "@localhost:"
                + target.postgresPort() + "/postgres?sslmode=verify-full";
        Path args = options.work().resolve("placement.args");
        Files.deleteIfExists(args);
        Files.createFile(args, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            // One argument per line, each in double quotes (a path with a space stays one argument).
            Files.writeString(args, List.of("placements", "add", Cluster.TARGET_PLACEMENT, "--admin-url", adminUrl, "--ca-file",
                    target.caCertificate().toString(), "--data-dir", a.dataDir().toString()).stream()
                    .map(arg -> "\"" + arg.replace("\\", "\\\\").replace("\"", "\\\"") + "\"")
                    .collect(java.util.stream.Collectors.joining("\n", "", "\n")), StandardCharsets.UTF_8);
            ProcessBuilder builder = new ProcessBuilder(Machine.javaCommand(options.jar(), "@" + args)).redirectErrorStream(true);
            Map<String, String> env = builder.environment();
            SiloProcess.CALLER_SETTINGS.forEach(env::remove);
            env.put("SILO_MASTER_KEY_FILE", a.dataDir().resolve("master.key").toString());
            env.put("SILO_LOG_FORMAT", "json");
            Process process = builder.start();
            byte[] out = process.getInputStream().readAllBytes();
            if (!process.waitFor(2, TimeUnit.MINUTES)) {
                process.destroyForcibly();
                throw new Fatal("silo placements add did not finish within 2 minutes");
            }
            if (process.exitValue() != 0) {
                throw new Fatal("silo placements add exited with " + process.exitValue() + ": "
                        + SiloProcess.tail(new String(out, StandardCharsets.UTF_8), 8));
            }
        } finally {
            Files.deleteIfExists(args);
        }
        harness.progress("row 19: placement " + Cluster.TARGET_PLACEMENT + " added (the move target's PostgreSQL on port "
                + target.postgresPort() + ")");
    }
}
