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
    record Sample(long siloRss, String heap, long threads, String nativeMemory, long postgresPss, int postgresProcesses,
                  String error) {
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
                "ratio: Silo RSS ÷ 300 MiB; " + sample.heap() + "; " + sample.threads() + " threads"
                        + (sample.nativeMemory().isEmpty() ? "" : "; NMT committed: " + sample.nativeMemory()) + "; Silo runs with " + String.join(" ", Machine.siloJvmOptions(harness.options().jar()))
                        + " like ./silo (class data sharing archive " + archiveState(harness.options().jar()) + "; machine RAM "
                        + mib(Machine.totalMemory()) + ")");
    }

    /** Whether the JVM could use target/silo.jsa: "newer than the jar" (it maps it), "older than the jar" (ignored) or "absent". */
    static String archiveState(Path jar) {
        Path archive = Machine.classArchive(jar);
        try {
            if (!Files.isRegularFile(archive)) {
                return "absent";
            }
            return Files.getLastModifiedTime(archive).compareTo(Files.getLastModifiedTime(jar)) > 0
                    ? "newer than the jar" : "older than the jar: not used";
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** G1's heap line: "garbage-first heap   total reserved 196608K, committed 49152K, used 20480K". */
    private static final Pattern G1_HEAP = Pattern.compile("committed (\\d+)K, used (\\d+)K");
    /** The serial and parallel collectors' generations: "Tenured    total 155648K, used 1166K" (JDK 25). */
    private static final Pattern GENERATION = Pattern.compile("(?:generation|DefNew|Tenured|PSYoungGen|ParOldGen)\\s+total (\\d+)K, used (\\d+)K");
    private static final Pattern METASPACE = Pattern.compile("Metaspace\\s+used (\\d+)K, committed (\\d+)K");

    /**
     * The Java heap the JVM has committed and uses, and the metaspace it has committed, from {@code jcmd PID
     * GC.heap_info}; "heap unknown" if jcmd fails.
     */
    static String heapCommitted(long pid) {
        try {
            String text = Tool.run(Path.of(System.getProperty("java.home"), "bin", "jcmd"), List.of(Long.toString(pid), "GC.heap_info"),
                    java.util.Map.of(), java.time.Duration.ofSeconds(30));
            long committed = 0;
            long used = 0;
            Matcher generation = GENERATION.matcher(text);
            while (generation.find()) {
                committed += Long.parseLong(generation.group(1));
                used += Long.parseLong(generation.group(2));
            }
            if (committed == 0) {
                Matcher g1 = G1_HEAP.matcher(text);
                if (!g1.find()) {
                    return "heap unknown";
                }
                committed = Long.parseLong(g1.group(1));
                used = Long.parseLong(g1.group(2));
            }
            Matcher metaspace = METASPACE.matcher(text);
            return "heap committed " + mib(committed * 1024) + ", used " + mib(used * 1024)
                    + (metaspace.find() ? "; metaspace committed " + mib(Long.parseLong(metaspace.group(2)) * 1024) : "")
                    + " (jcmd GC.heap_info)";
        } catch (Exception e) {
            return "heap unknown";
        }
    }

    private static final Pattern NMT_CATEGORY = Pattern.compile("(?m)^-\\s+(.+?) \\(reserved=\\d+KB, committed=(\\d+)KB");

    /**
     * Where the committed memory is, by Native Memory Tracking category (largest first, 1 MiB and above), when Silo
     * runs with {@code -XX:NativeMemoryTracking=summary} (e.g. through SILO_BENCH_JVM_OPTS); empty otherwise.
     */
    static String nativeMemory(long pid) {
        try {
            String text = Tool.run(Path.of(System.getProperty("java.home"), "bin", "jcmd"),
                    List.of(Long.toString(pid), "VM.native_memory", "summary"), java.util.Map.of(), java.time.Duration.ofSeconds(30));
            Matcher category = NMT_CATEGORY.matcher(text);
            List<long[]> sizes = new ArrayList<>();
            List<String> names = new ArrayList<>();
            while (category.find()) {
                names.add(category.group(1).strip());
                sizes.add(new long[] {Long.parseLong(category.group(2)), names.size() - 1});
            }
            sizes.sort((a, b) -> Long.compare(b[0], a[0]));
            List<String> parts = new ArrayList<>();
            for (long[] size : sizes) {
                if (size[0] >= 1024) {
                    parts.add(names.get((int) size[1]) + " " + mib(size[0] * 1024));
                }
            }
            return String.join(", ", parts);
        } catch (Exception e) {
            return "";
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
            return new Sample(rss, heapCommitted(silo.pid()), statusKb(silo.pid(), "Threads"), nativeMemory(silo.pid()), pss,
                    processes, null);
        } catch (IOException | RuntimeException e) {
            return new Sample(0, "heap unknown", 0, "", 0, 0, e.toString());
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
