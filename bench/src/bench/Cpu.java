package bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * CPU time per party at one moment. {@code siloEach}: each counted Silo JVM's share of {@code siloNanos}, named, when
 * more than one Silo is counted (the nodes of rows 18 and 19); empty otherwise.
 */
record Cpu(long clientNanos, long toolNanos, long siloNanos, long postgresNanos, long machineNanos, long wallNanos,
           java.util.Map<String, Long> siloEach) {
    private static final long TICK_NANOS = 10_000_000L; // USER_HZ is 100 on Linux
    private static volatile List<SiloProcess> silos = List.of();

    /** The Silos (JVM and embedded PostgreSQL, when it has one) the CPU notes count as "silo" and "pg" from now on. */
    static void init(SiloProcess... processes) {
        silos = List.of(processes);
    }

    /** This snapshot with the wall clock of {@code wallNanos}: for CPU counted a little after a phase ended. */
    Cpu endedAt(long wallNanos) {
        return new Cpu(clientNanos, toolNanos, siloNanos, postgresNanos, machineNanos, wallNanos, siloEach);
    }

    static Cpu now() {
        long client = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
        long[] self = stat(ProcessHandle.current().pid());
        long tool = self == null ? 0 : (self[2] + self[3]) * TICK_NANOS; // reaped children: pgbench
        long siloNanos = 0;
        long postgres = 0;
        List<SiloProcess> counted = silos;
        java.util.Map<String, Long> each = new java.util.LinkedHashMap<>();
        for (SiloProcess silo : counted) {
            if (!silo.started()) {
                continue;
            }
            long[] s = stat(silo.pid());
            long jvm = s == null ? 0 : (s[0] + s[1]) * TICK_NANOS;
            siloNanos += jvm;
            if (counted.size() > 1) {
                each.put(silo.name().isEmpty() ? "main" : silo.name(), jvm);
            }
            Optional<Long> postmaster = silo.postmasterPid();
            if (postmaster.isPresent()) {
                long[] p = stat(postmaster.get());
                if (p != null) {
                    postgres += (p[0] + p[1] + p[2] + p[3]) * TICK_NANOS;
                    for (ProcessHandle child : ProcessHandle.of(postmaster.get()).map(h -> h.children().toList())
                            .orElse(List.of())) {
                        long[] c = stat(child.pid());
                        if (c != null) {
                            postgres += (c[0] + c[1]) * TICK_NANOS;
                        }
                    }
                }
            }
        }
        return new Cpu(client, tool, siloNanos, postgres, machineBusy(), System.nanoTime(), each);
    }

    /** CPU time the whole machine spent busy (all processes, all cores), from /proc/stat; 0 if unknown. */
    private static long machineBusy() {
        try {
            String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
            // cpu user nice system idle iowait irq softirq steal ...
            long busy = Long.parseLong(f[1]) + Long.parseLong(f[2]) + Long.parseLong(f[3]) + Long.parseLong(f[6])
                    + Long.parseLong(f[7]) + (f.length > 8 ? Long.parseLong(f[8]) : 0);
            return busy * TICK_NANOS;
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    /** The CPU seconds (user + system) process {@code pid} has used so far, or -1 if unknown. */
    static double processSeconds(long pid) {
        long[] s = stat(pid);
        return s == null ? -1 : (s[0] + s[1]) * TICK_NANOS / 1e9;
    }

    /** The 1-minute load average of the machine, or -1 if unknown. */
    static double loadAverage() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** utime, stime, cutime, cstime in clock ticks, or null. */
    private static long[] stat(long pid) {
        try {
            String text = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String[] fields = text.substring(text.lastIndexOf(')') + 2).split(" ");
            return new long[] {Long.parseLong(fields[11]), Long.parseLong(fields[12]), Long.parseLong(fields[13]),
                    Long.parseLong(fields[14])};
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** "CPU cores: client 0.8, silo 1.0, pg 0.2" for the window between two snapshots. */
    static String used(Cpu before, Cpu after) {
        double wall = after.wallNanos - before.wallNanos;
        List<String> parts = new ArrayList<>();
        parts.add(part("client", after.clientNanos - before.clientNanos, wall));
        if (after.toolNanos - before.toolNanos > 0) {
            parts.add(part("tool", after.toolNanos - before.toolNanos, wall));
        }
        String silo = part("silo", after.siloNanos - before.siloNanos, wall);
        if (!after.siloEach.isEmpty()) {
            List<String> each = new ArrayList<>();
            after.siloEach.forEach((name, nanos) -> each.add(part(name, nanos - before.siloEach.getOrDefault(name, nanos), wall)));
            silo += " (" + String.join(", ", each) + ")";
        }
        parts.add(silo);
        long pg = Math.max(0, after.postgresNanos - before.postgresNanos);
        parts.add(part("pg", pg, wall));
        if (after.machineNanos > 0) {
            // Anything else on the machine (other builds, tests, ...) competing for the same cores.
            long ours = (after.clientNanos - before.clientNanos) + (after.toolNanos - before.toolNanos)
                    + (after.siloNanos - before.siloNanos) + pg;
            parts.add(part("other", Math.max(0, after.machineNanos - before.machineNanos - ours), wall));
        }
        return "CPU cores " + String.join(", ", parts);
    }

    private static String part(String name, long nanos, double wall) {
        return name + " " + String.format(Locale.ROOT, "%.2f", nanos / wall);
    }
}
