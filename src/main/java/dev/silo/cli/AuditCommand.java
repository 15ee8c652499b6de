package dev.silo.cli;

import dev.silo.app.SiloCore;
import dev.silo.audit.AuditVerification;
import dev.silo.audit.TenantAudit;
import dev.silo.platform.problem.Conflict;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantStatus;
import dev.silo.platform.db.Sql;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "audit", mixinStandardHelpOptions = true, description = "The audit logs: every operator action (and each tenant's security events), in keyed hash chains.",
        subcommands = {AuditCommand.Verify.class, AuditCommand.ListEntries.class})
public final class AuditCommand {
    static Map<String, String> env;
    static PrintStream out;

    public AuditCommand(Map<String, String> env, PrintStream out) {
        AuditCommand.env = env;
        AuditCommand.out = out;
    }

    @Command(name = "verify", mixinStandardHelpOptions = true,
            description = {"Check the keyed hash chain of the platform log (or with --tenant, of a tenant's log) and compare it with the checkpoints.",
                    "Exit 1 naming the first entry that was edited, or the entries removed from the end."})
    static final class Verify implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Option(names = "--tenant", paramLabel = "SLUG", description = "verify this tenant's audit log instead of the platform's")
        String tenant;

        @Override
        public Integer call() {
            try (SiloCore silo = core.open(env)) {
                AuditVerification result;
                if (tenant == null) {
                    result = Sql.withConnection(silo.catalog(), silo.audit()::verify);
                } else {
                    Tenant target = silo.tenants().get(tenant);
                    if (target.status() != TenantStatus.ACTIVE && target.status() != TenantStatus.SUSPENDED) {
                        throw new Conflict("invalid-state", "tenant '" + tenant + "' is " + target.status().wire()
                                + "; its database cannot be read as its role");
                    }
                    result = silo.tenantDatabases().withConnection(target,
                            connection -> silo.tenantAudit().verify(connection, TenantAudit.logName(target.id())));
                }
                if (core.json) {
                    Output.json(out, result.view());
                } else {
                    out.println(result.summary());
                }
                return result.intact() ? 0 : 1;
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
