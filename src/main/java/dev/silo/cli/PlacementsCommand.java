package dev.silo.cli;

import dev.silo.app.SiloCore;
import dev.silo.audit.Actor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "placements", mixinStandardHelpOptions = true,
        description = "PostgreSQL servers that hold tenant databases (the embedded one is the default).",
        subcommands = {PlacementsCommand.Add.class, PlacementsCommand.ListPlacements.class, PlacementsCommand.Drain.class})
public final class PlacementsCommand {
    static Map<String, String> env;
    static PrintStream out;

    public PlacementsCommand(Map<String, String> env, PrintStream out) {
        PlacementsCommand.env = env;
        PlacementsCommand.out = out;
    }

    @Command(name = "add", mixinStandardHelpOptions = true,
            description = {"Register a PostgreSQL 14+ server where Silo holds an account with CREATEDB and CREATEROLE.",
                    "Connections use TLS: sslmode=require at least, verify-full when --ca-file is given."})
    static final class Add implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Option(names = "--admin-url", required = true, paramLabel = "URL", description = "postgres://USER:PASSWORD@HOST:PORT/DB")
        String adminUrl;

        @Option(names = "--ca-file", paramLabel = "FILE", description = "the CA certificate (PEM) that signed the server's certificate")
        Path caFile;

        @Override
        public Integer call() {
            String ca;
            try {
                ca = caFile == null ? null : Files.readString(caFile);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read " + caFile, e);
            }
            try (SiloCore silo = core.open(env)) {
                var placement = silo.placements().add(name, adminUrl, ca, Actor.cli());
                if (core.json) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("name", placement.name());
                    row.put("kind", placement.kind());
                    row.put("tenants", placement.liveTenants());
                    row.put("created_at", placement.createdAt());
                    Output.json(out, row);
                } else {
                    out.println("placement '" + placement.name() + "' added; new tenants go to the placement with the fewest tenants");
                }
                return 0;
            }
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List placements and their tenant counts.")
    static final class ListPlacements implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Override
        public Integer call() {
            try (SiloCore silo = core.open(env)) {
                List<Map<String, ?>> rows = silo.placements().list().stream().<Map<String, ?>>map(p -> {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("name", p.name());
                    row.put("kind", p.kind());
                    row.put("tenants", p.liveTenants());
                    row.put("accepting", p.accepting());
                    row.put("created_at", p.createdAt());
                    return row;
                }).toList();
                if (core.json) {
                    Output.json(out, rows);
                } else {
                    Output.table(out, List.of("name", "kind", "tenants", "accepting", "created_at"), rows);
                }
                return 0;
            }
        }
    }

    @Command(name = "drain", mixinStandardHelpOptions = true,
            description = {"Take a placement out of service: it takes no new tenant from now on, and every active or "
                    + "suspended tenant on it is moved, one after another, to the accepting placement with the fewest "
                    + "tenants (see `silo tenants move`). Deprovisioned tenants stay until their purge.",
                    "One drain of a placement runs at a time, on any node or command line; the command prints each move "
                            + "and exits 1 if a tenant could not be moved (run it again to retry those)."})
    static final class Drain implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Parameters(index = "0", paramLabel = "NAME", description = "the placement to drain (see `silo placements list`)")
        String name;

        @Override
        public Integer call() {
            try (SiloCore silo = core.open(env); dev.silo.platform.jobs.Jobs jobs = new dev.silo.platform.jobs.Jobs(silo.catalog())) {
                dev.silo.move.TenantMoves moves = dev.silo.app.Silo.tenantMoves(silo, jobs);
                Map<String, Object> result = moves.runDrain(moves.prepareDrain(name, Actor.cli()), line -> {
                    if (!core.json) {
                        out.println(line);
                    }
                });
                if (core.json) {
                    Output.json(out, result);
                } else {
                    out.println("placement '" + name + "' drained: " + slugs(result.get("moved")) + " moved, "
                            + slugs(((Map<?, ?>) result.get("failed")).keySet()) + " failed, " + slugs(result.get("left"))
                            + " left (attached, or deprovisioned until their purge)");
                }
                return ((Map<?, ?>) result.get("failed")).isEmpty() ? 0 : 1;
            }
        }

        private static String slugs(Object tenants) {
            java.util.Collection<?> slugs = (java.util.Collection<?>) tenants;
            return slugs.isEmpty() ? "no tenant" : slugs.size() + " (" + slugs.stream().map(Object::toString)
                    .collect(java.util.stream.Collectors.joining(", ")) + ")";
        }
    }
}
