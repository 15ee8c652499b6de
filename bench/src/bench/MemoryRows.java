package bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Row 10 (issue 15, goal 3): the memory of the main Silo, started with the JVM options {@code ./silo} uses
 * (the repository's {@code jvm.options}, see {@link Machine#javaCommand}): the JVM's resident set (VmRSS) right after
 * start and after the load rows that ran before this one, against the goal of 300 MiB (a 512 MB dyno with
 * headroom); beside it the embedded PostgreSQL's proportional set (Pss from {@code /proc/PID/smaps_rollup}, summed
 * over the postmaster and its children, so shared buffers mapped by every backend are counted once).
 */
final class MemoryRows {
    static final long GOAL_BYTES = 300L * 1024 * 1024;

    /** One look at both processes. */
    record Sample(long siloRss, String heap, long postgresPss, int postgresProcesses, String error) {
        String silo() {
            return error != null ? "unknown (" + error + ")" : mib(siloRss) + " RSS";
        }

        String postgres() {
            return error != null || postgresProcesses == 0 ? "unknown"
                    : mib(postgresPss) + " PSS over " + postgresProcesses + " processes";
        }
    }

    private final Harness harness;
    private Sample idle;
    private String idleWhen;

    MemoryRows(Harness harness) {
        this.harness = harness;
    }

    /** Right after the main Silo is ready, before any row. */
    void sampleIdle(SiloProcess silo) {
        idle = sample(silo);
        idleWhen = "after start (before the feature probe)";
    }

    /** After the load rows: the second sample and the rows. {@code ran}: which load rows ran before it. */
    void addRows(SiloProcess silo, String ran) {
        Sample after = sample(silo);
        harness.add(row("Silo JVM RSS idle, " + idleWhen + ", vs the goal of 300 MiB; embedded PostgreSQL PSS beside it", idle));
        harness.add(row("Silo JVM RSS after the load rows (" + ran + "), vs the goal of 300 MiB (goal ≤ 1.00); "
                + "embedded PostgreSQL PSS beside it", after));
    }

    private Row row(String name, Sample sample) {
        String ratio = sample.error() == null ? String.format(Locale.ROOT, "%.2f", (double) sample.siloRss() / GOAL_BYTES) : "—";
        return new Row("10", name, sample.silo(), "PostgreSQL: " + sample.postgres(), ratio,
                "ratio: Silo RSS ÷ 300 MiB; " + sample.heap() + "; Silo runs with " + String.join(" ", Machine.siloJvmOptions(harness.options().jar()))
                        + " like ./silo (machine RAM " + mib(Machine.totalMemory()) + ")");
    }

    private static final Pattern COMMITTED = Pattern.compile("committed (\\d+)K");

    /** The Java heap the JVM has committed, from {@code jcmd PID GC.heap_info}; "heap unknown" if jcmd fails. */
    static String heapCommitted(long pid) {
        try {
            String text = Tool.run(Path.of(System.getProperty("java.home"), "bin", "jcmd"), List.of(Long.toString(pid), "GC.heap_info"),
                    java.util.Map.of(), java.time.Duration.ofSeconds(30));
            Matcher committed = COMMITTED.matcher(text);
            return committed.find() ? "heap committed " + mib(Long.parseLong(committed.group(1)) * 1024) + " (jcmd GC.heap_info)"
                    : "heap unknown";
        } catch (Exception e) {
            return "heap unknown";
        }
    }

    static Sample sample(SiloProcess silo) {
        try {
            long rss = statusKb(silo.pid(), "VmRSS") * 1024;
            long pss = 0;
            int processes = 0;
            Optional<Long> postmaster = silo.postmasterPid();
            if (postmaster.isPresent()) {
                List<Long> pids = new ArrayList<>();
                pids.add(postmaster.get());
                ProcessHandle.of(postmaster.get()).ifPresent(h -> h.children().forEach(c -> pids.add(c.pid())));
                for (long pid : pids) {
                    Optional<Long> kb = rollupKb(pid, "Pss");
                    if (kb.isPresent()) {
                        pss += kb.get() * 1024;
                        processes++;
                    }
                }
            }
            return new Sample(rss, heapCommitted(silo.pid()), pss, processes, null);
        } catch (IOException | RuntimeException e) {
            return new Sample(0, "heap unknown", 0, 0, e.toString());
        }
    }

    /** A "Name:   123 kB" line of /proc/PID/status. */
    static long statusKb(long pid, String field) throws IOException {
        return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream().filter(l -> l.startsWith(field + ":"))
                .map(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst()
                .orElseThrow(() -> new IOException("no " + field + " in /proc/" + pid + "/status"));
    }

    /** A field of /proc/PID/smaps_rollup; empty if the process is gone or unreadable. */
    static Optional<Long> rollupKb(long pid, String field) {
        try {
            return Files.readAllLines(Path.of("/proc/" + pid + "/smaps_rollup")).stream()
                    .filter(l -> l.startsWith(field + ":")).map(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst();
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    static String mib(long bytes) {
        return String.format(Locale.ROOT, "%.0f MiB", bytes / 1024.0 / 1024.0);
    }
}
