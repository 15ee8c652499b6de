package bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

record Options(boolean quick, Path jar, Path work, Path outDir, Optional<Path> pgbench, String commandLine,
               Duration warmup, Duration measure, int connections, int bcryptCost, int provisionTenants,
               int rawProvisionDatabases, List<Integer> tenantLevels, int pgbenchScale, int pgbenchClients,
               java.util.Set<String> rowIds, int fillerTenants, int zipfTenants, int nodes, int moveRecords,
               int readyTenants) {
    /** The rows of {@code bench/run --nodes 2} (issue 18): several nodes, a tenant move, time to ready by tenants. */
    static final java.util.Set<String> CLUSTER_ROWS = java.util.Set.of("18", "19", "20");

    /** Nodes the cluster rows (18, 19) run: {@code --nodes} when above 1, else 2. */
    int clusterNodes() {
        return Math.max(2, nodes);
    }

    /** Whether any of {@code ids} was asked for ({@code --rows}; all when not given). */
    boolean wants(String... ids) {
        return rowIds.isEmpty() || java.util.Arrays.stream(ids).anyMatch(rowIds::contains);
    }

    static Options parse(String[] args) {
        boolean quick = false;
        Path jar = null, work = null, outDir = null;
        Optional<Path> pgbench = Optional.empty();
        String commandLine = "bench/run";
        Double warmup = null, measure = null;
        Integer connections = null, cost = null, provision = null, scale = null, filler = null, zipf = null;
        Integer moveRecords = null, readyTenants = null;
        int nodes = 1;
        List<Integer> levels = null;
        java.util.Set<String> rowIds = java.util.Set.of();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            switch (arg) {
                case "--quick" -> quick = true;
                case "--jar" -> jar = Path.of(value(args, ++i, arg));
                case "--work" -> work = Path.of(value(args, ++i, arg));
                case "--out" -> outDir = Path.of(value(args, ++i, arg));
                case "--pgbench" -> {
                    String p = value(args, ++i, arg);
                    pgbench = p.isBlank() ? Optional.empty() : Optional.of(Path.of(p));
                }
                case "--command-line" -> commandLine = value(args, ++i, arg);
                case "--warmup" -> warmup = Double.parseDouble(value(args, ++i, arg));
                case "--duration" -> measure = Double.parseDouble(value(args, ++i, arg));
                case "--connections" -> connections = Integer.parseInt(value(args, ++i, arg));
                case "--bcrypt-cost" -> cost = Integer.parseInt(value(args, ++i, arg));
                case "--provision" -> provision = Integer.parseInt(value(args, ++i, arg));
                case "--pgbench-scale" -> scale = Integer.parseInt(value(args, ++i, arg));
                case "--tenants" -> levels = Stream.of(value(args, ++i, arg).split(","))
                        .map(String::strip).map(Integer::parseInt).toList();
                case "--filler-tenants" -> filler = Integer.parseInt(value(args, ++i, arg));
                case "--zipf-tenants" -> zipf = Integer.parseInt(value(args, ++i, arg));
                case "--nodes" -> nodes = Integer.parseInt(value(args, ++i, arg));
                case "--move-records" -> moveRecords = Integer.parseInt(value(args, ++i, arg));
                case "--ready-tenants" -> readyTenants = Integer.parseInt(value(args, ++i, arg));
                case "--rows" -> rowIds = Stream.of(value(args, ++i, arg).split(",")).map(String::strip)
                        .collect(java.util.stream.Collectors.toUnmodifiableSet());
                default -> throw new IllegalArgumentException("unknown option " + arg + " (see bench/run --help)");
            }
        }
        if (jar == null || work == null || outDir == null) {
            throw new IllegalArgumentException("--jar, --work and --out are required (bench/run passes them)");
        }
        int bcryptCost = cost != null ? cost : quick ? 10 : 12;
        if (bcryptCost < 10 || bcryptCost > 16) {
            throw new IllegalArgumentException("--bcrypt-cost must be 10..16 (Silo never accepts below 10)");
        }
        if (nodes < 1 || nodes > 4) {
            throw new IllegalArgumentException("--nodes takes 1 to 4 (the cluster rows run 2 unless told more)");
        }
        if (nodes > 1 && rowIds.isEmpty()) {
            rowIds = CLUSTER_ROWS; // bench/run --nodes 2: the cluster rows
        }
        List<Integer> tenantLevels = levels != null ? levels : quick ? List.of(1, 10) : List.of(1, 100, 1000);
        if (tenantLevels.isEmpty() || tenantLevels.stream().anyMatch(n -> n < 1)) {
            throw new IllegalArgumentException("--tenants takes positive counts, such as 1,100,1000");
        }
        return new Options(quick, jar, work, outDir, pgbench, commandLine,
                seconds(warmup != null ? warmup : quick ? 1 : 5),
                seconds(measure != null ? measure : quick ? 2 : 15),
                connections != null ? connections : quick ? 16 : 64,
                bcryptCost,
                provision != null ? provision : quick ? 5 : 100,
                quick ? 3 : 30,
                tenantLevels,
                scale != null ? scale : quick ? 1 : 10,
                8,
                rowIds,
                positive(filler != null ? filler : quick ? 20 : 1000, "--filler-tenants"),
                positive(zipf != null ? zipf : quick ? 20 : 1000, "--zipf-tenants"),
                nodes,
                positive(moveRecords != null ? moveRecords : quick ? 500 : 10_000, "--move-records"),
                positive(readyTenants != null ? readyTenants : quick ? 20 : 1000, "--ready-tenants"));
    }

    private static int positive(int n, String option) {
        if (n < 1) {
            throw new IllegalArgumentException(option + " takes a positive count");
        }
        return n;
    }

    private static String value(String[] args, int i, String option) {
        if (i >= args.length) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[i];
    }

    private static Duration seconds(double s) {
        if (s <= 0) {
            throw new IllegalArgumentException("durations must be positive");
        }
        return Duration.ofMillis(Math.round(s * 1000));
    }

    /** pgbench takes whole seconds. */
    int pgbenchSeconds(Duration d) {
        return (int) Math.max(1, Math.round(d.toMillis() / 1000.0));
    }
}
