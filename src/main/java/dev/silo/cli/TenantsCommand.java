package dev.silo.cli;

import dev.silo.app.SiloCore;
import dev.silo.audit.Actor;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.Conflict;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantService;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.BiFunction;

@Command(name = "tenants", mixinStandardHelpOptions = true,
        description = {"Create and manage tenants: each gets its own PostgreSQL database, role, password, JWT secret and data key.",
                "Commands work on the catalog directly, whether or not a server runs; a running server learns of changes at once."},
        subcommands = {
                TenantsCommand.Create.class, TenantsCommand.Attach.class, TenantsCommand.ListTenants.class, TenantsCommand.Show.class,
                TenantsCommand.Suspend.class, TenantsCommand.Resume.class, TenantsCommand.Deprovision.class,
                TenantsCommand.Restore.class, TenantsCommand.Purge.class, TenantsCommand.RotateSecret.class,
                TenantsCommand.Repair.class, TenantsCommand.SetCors.class,
                LogicalBackupCommands.ListBackups.class, LogicalBackupCommands.TakeBackup.class,
                LogicalBackupCommands.RestoreBackup.class, LogicalBackupCommands.RestoreTo.class, TenantsCommand.SetLimit.class,
                TenantsCommand.Move.class})
public final class TenantsCommand {
    static Map<String, String> env;
    static PrintStream out;

    public TenantsCommand(Map<String, String> env, PrintStream out) {
        TenantsCommand.env = env;
        TenantsCommand.out = out;
    }

    abstract static class TenantCommand implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Override
        public Integer call() {
            try (SiloCore silo = core.open(env)) {
                return run(silo, silo.tenants(), Actor.cli());
            }
        }

        abstract int run(SiloCore silo, TenantService tenants, Actor actor);

        void show(TenantService tenants, Tenant tenant) {
            if (core.json) {
                Output.json(out, tenants.view(tenant));
            } else {
                Output.keyValues(out, tenants.view(tenant));
            }
        }
    }

    abstract static class SlugCommand extends TenantCommand {
        @Parameters(index = "0", paramLabel = "SLUG", description = "the tenant's slug")
        String slug;
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Provision a tenant: database, role, secret and key.")
    static final class Create extends SlugCommand {
        @Option(names = "--name", description = "display name (default: the slug)")
        String name;

        @Option(names = "--placement", description = "the PostgreSQL server to use (default: the one with the fewest tenants)")
        String placement;

        @Override
        int run(SiloCore silo, TenantService tenants, Actor actor) {
            show(tenants, tenants.create(slug, name, Optional.ofNullable(placement), actor));
            return 0;
        }
    }

    @Command(name = "move", mixinStandardHelpOptions = true,
            description = {"Move a tenant's database to another placement while it is served: the rows are copied in one "
                    + "snapshot, then the changes made meanwhile; for the last ones its writes answer 503 tenant-moving for "
                    + "a few seconds (reads go on), then every node switches to the copy.",
                    "The source copy is kept, unable to log in, for the retention window. A failed or interrupted move "
                            + "leaves the tenant where it was; run the command again."})
    static final class Move extends SlugCommand {
        @Option(names = "--to", required = true, paramLabel = "PLACEMENT", description = "the placement to move to (see `silo placements list`)")
        String to;

        @Override
        int run(SiloCore silo, TenantService tenants, Actor actor) {
            try (dev.silo.platform.jobs.Jobs jobs = new dev.silo.platform.jobs.Jobs(silo.catalog())) {
                dev.silo.move.TenantMoves moves = dev.silo.app.Silo.tenantMoves(silo, jobs);
                dev.silo.move.TenantMoves.Prepared prepared = moves.prepare(slug, to, actor);
                Map<String, Object> result = moves.run(prepared, line -> {
                    if (!core.json) {
                        out.println(line);
                    }
                });
                if (core.json) {
                    Output.json(out, result);
                }
                return 0;
            }
        }
    }

    @Command(name = "attach", mixinStandardHelpOptions = true,
            description = "Adopt a ready-made database (for example a Heroku Postgres add-on) as a tenant.")
    static final class Attach extends SlugCommand {
        @Option(names = "--name", description = "display name (default: the slug)")
        String name;

        @Option(names = "--tenant-database-url", required = true, paramLabel = "URL",
                description = "postgres://USER:PASSWORD@HOST:PORT/DB of the database to adopt (TLS required)")
        String tenantDatabaseUrl;

        @Override
        int run(SiloCore silo, TenantService tenants, Actor actor) {
            show(tenants, tenants.attach(slug, name, tenantDatabaseUrl, actor));
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List tenants (purged ones with --all).")
    static final class ListTenants extends TenantCommand {
        @Option(names = "--all", description = "include purged tenants")
        boolean all;

        @Override
        int run(SiloCore silo, TenantService tenants, Actor actor) {
            List<Map<String, ?>> rows = tenants.list(all).stream().<Map<String, ?>>map(tenants::view).toList();
            if (core.json) {
                Output.json(out, rows);
            } else {
                Output.table(out, List.of("slug", "status", "placement", "created_at", "purge_after", "name"), rows);
            }
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show one tenant (never a secret).")
    static final class Show extends SlugCommand {
        @Override
        int run(SiloCore silo, TenantService tenants, Actor actor) {
            show(tenants, tenants.get(slug));
            return 0;
        }
    }

    abstract static class Transition extends SlugCommand {
        abstract BiFunction<String, Actor, Tenant> action(TenantService tenants);

        @Override
        int run(SiloCore silo, TenantService tenants, Actor actor) {
            show(tenants, action(tenants).apply(slug, actor));
            return 0;
        }
    }

    @Command(name = "suspend", mixinStandardHelpOptions = true, description = "Block every request and login of the tenant, at once, on every node.")
    static final class Suspend extends Transition {
        @Override
        BiFunction<String, Actor, Tenant> action(TenantService tenants) {
            return tenants::suspend;
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, description = "Lift a suspension.")
    static final class Resume extends Transition {
        @Override
        BiFunction<String, Actor, Tenant> action(TenantService tenants) {
            return tenants::resume;
        }
    }

    @Command(name = "deprovision", mixinStandardHelpOptions = true,
            description = "Block access at once and keep the data for the retention window (SILO_RETENTION_DAYS, 7), then purge it.")
    static final class Deprovision extends Transition {
        @Override
        BiFunction<String, Actor, Tenant> action(TenantService tenants) {
            return tenants::deprovision;
        }
    }

    @Command(name = "restore", mixinStandardHelpOptions = true, description = "Undo a deprovisioning within the retention window.")
    static final class Restore extends Transition {
        @Override
        BiFunction<String, Actor, Tenant> action(TenantService tenants) {
            return tenants::restore;
        }
    }

    @Command(name = "purge", mixinStandardHelpOptions = true,
            description = {"Destroy a deprovisioned tenant: drop its database and role and destroy its keys, so backups of its data become unreadable.",
                    "Without --now only a tenant past its retention window is purged (the server does that by itself)."})
    static final class Purge extends SlugCommand {
        @Option(names = "--now", description = "purge before the retention window ends")
        boolean now;

        @Option(names = "--confirm", required = true, paramLabel = "SLUG", description = "repeat the slug to confirm")
        String confirm;

        @Override
        int run(SiloCore silo, TenantService tenants, Actor actor) {
            if (!slug.equals(confirm)) {
                throw new BadRequest("confirmation-required", "--confirm must repeat the slug '" + slug + "'");
            }
            try {
                show(tenants, tenants.purge(slug, now, actor));
            } catch (Conflict e) {
                // The service speaks the API's words (now=true); on the command line that is the --now flag.
                if (e.type().equals("retention-window")) {
                    throw new Conflict("retention-window", e.getMessage().replace("now=true", "--now"));
                }
                throw e;
            }
            return 0;
        }
    }

    @Command(name = "rotate-secret", mixinStandardHelpOptions = true,
            description = {"Add a new JWT signing key that signs from now on.",
                    "The previous key verifies for the access-token lifetime, so nobody is logged out; --revoke-previous ends that at once"
                            + " (for a compromised secret)."})
    static final class RotateSecret extends SlugCommand {
        @Option(names = "--revoke-previous", description = "stop accepting tokens signed with the previous key at once")
        boolean revokePrevious;

        @Override
        int run(SiloCore silo, TenantService tenants, Actor actor) {
            String kid = tenants.rotateSecret(slug, revokePrevious, actor);
            String previous = revokePrevious ? "revoked" : "verifies for " + tenants.settings().secretGrace().toMinutes() + " more minutes";
            if (core.json) {
                // The same fields as POST /admin/tenants/{slug}/rotate-secret.
                Map<String, Object> result = new LinkedHashMap<>();
                result.put("slug", slug);
                result.put("signing_key_id", kid);
                result.put("previous_key", previous);
                Output.json(out, result);
            } else {
                out.println("tenant " + slug + " now signs with key " + kid + "; the previous key " + previous);
            }
            return 0;
        }
    }

    @Command(name = "repair", mixinStandardHelpOptions = true,
            description = "Complete (or with --rollback, undo) every tenant whose provisioning was interrupted.")
    static final class Repair extends TenantCommand {
        @Option(names = "--rollback", description = "remove interrupted tenants instead of completing them")
        boolean rollback;

        @Override
        int run(SiloCore silo, TenantService tenants, Actor actor) {
            var results = tenants.repair(rollback, Duration.ZERO, actor);
            if (core.json) {
                Output.json(out, results);
            } else if (results.isEmpty()) {
                out.println("no tenant is waiting for repair");
            } else {
                results.forEach(r -> out.println(r.slug() + ": " + r.outcome() + " (" + r.detail() + ")"));
            }
            return results.stream().anyMatch(r -> r.outcome().equals("failed")) ? 1 : 0;
        }
    }

    // ---- CORS (README "CORS")

    @Command(name = "set-cors", mixinStandardHelpOptions = true,
            description = {"Set the origins whose browser apps may call the tenant's API (CORS), replacing the current list.",
                    "An origin is scheme://host[:port] exactly, such as https://app.example.com; '*' alone allows any origin."})
    static final class SetCors extends SlugCommand {
        /** Exactly one of the two, checked by picocli as a usage error (exit 2) before anything opens. */
        static final class Choice {
            @Option(names = "--origin", required = true, paramLabel = "ORIGIN", description = "an allowed origin; repeat for several")
            List<String> origins;

            @Option(names = "--none", required = true, description = "allow no origin (the default for a new tenant)")
            boolean none;
        }

        @ArgGroup(exclusive = true, multiplicity = "1")
        Choice choice;

        @Override
        int run(SiloCore silo, TenantService tenants, Actor actor) {
            var set = tenants.setCorsOrigins(slug, choice.none ? List.of() : choice.origins, actor);
            if (core.json) {
                Output.json(out, Map.of("tenant", slug, "cors_origins", set.origins()));
            } else {
                out.println(set.origins().isEmpty() ? "tenant " + slug + " allows no cross-origin calls"
                        : "tenant " + slug + " allows cross-origin calls from " + String.join(", ", set.origins()));
            }
            return 0;
        }
    }

    // ---- rate limit (README "Rate limits")

    @Command(name = "set-limit", mixinStandardHelpOptions = true,
            description = {"Set the tenant's rate limit (all its users and addresses together), on every node at once.",
                    "LIMIT is RATE/UNIT[,BURST] such as 100/s,200 (UNIT s, min or h), off for none,",
                    "or default for the node's SILO_RATE_LIMIT_TENANT."})
    static final class SetLimit extends SlugCommand {
        @Parameters(index = "1", paramLabel = "LIMIT", description = "RATE/UNIT[,BURST], off or default")
        String limit;

        @Override
        int run(SiloCore silo, TenantService tenants, Actor actor) {
            String set = tenants.setRateLimit(slug, limit, actor).orElse("default");
            if (core.json) {
                Output.json(out, Map.of("tenant", slug, "rate_limit", set));
            } else {
                out.println("tenant " + slug + " rate limit: " + set);
            }
            return 0;
        }
    }
}
