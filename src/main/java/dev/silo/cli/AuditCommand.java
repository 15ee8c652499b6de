package dev.silo.cli;

import dev.silo.app.SiloCore;
import dev.silo.audit.PlatformAudit;
import dev.silo.platform.db.Sql;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "audit", mixinStandardHelpOptions = true, description = "The platform audit log: every operator action, hash-chained.",
        subcommands = {AuditCommand.Verify.class, AuditCommand.ListEntries.class})
public final class AuditCommand {
    static Map<String, String> env;
    static PrintStream out;

    public AuditCommand(Map<String, String> env, PrintStream out) {
        AuditCommand.env = env;
        AuditCommand.out = out;
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = "Check the hash chain; exit 1 naming the first entry that was edited or removed.")
    static final class Verify implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Override
        public Integer call() {
            try (SiloCore silo = core.open(env)) {
                PlatformAudit.Verification result = Sql.withConnection(silo.catalog(), silo.audit()::verify);
                if (result.intact()) {
                    out.println("audit log intact: " + result.entries() + " entries verified");
                    return 0;
                }
                out.println("audit log TAMPERED: entry " + result.brokenAt().orElseThrow()
                        + " does not match the chain (edited, removed or reordered)");
                return 1;
            }
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Show the newest entries.")
    static final class ListEntries implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Option(names = "--limit", defaultValue = "50")
        int limit;

        @Override
        public Integer call() {
            try (SiloCore silo = core.open(env)) {
                var entries = Sql.withConnection(silo.catalog(), c -> silo.audit().list(c, Math.min(limit, 1000), Long.MAX_VALUE));
                if (core.json) {
                    Output.json(out, entries);
                    return 0;
                }
                List<Map<String, ?>> rows = entries.stream().<Map<String, ?>>map(e -> {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("seq", e.seq());
                    row.put("at", e.at());
                    row.put("actor", e.actor());
                    row.put("action", e.action());
                    row.put("target", e.target());
                    return row;
                }).toList();
                Output.table(out, List.of("seq", "at", "actor", "action", "target"), rows);
                return 0;
            }
        }
    }
}
