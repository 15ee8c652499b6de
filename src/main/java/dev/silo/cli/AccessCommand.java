package dev.silo.cli;

import dev.silo.app.SiloCore;
import dev.silo.audit.Actor;
import dev.silo.operator.OperatorService;
import dev.silo.platform.config.ConfigException;
import dev.silo.platform.problem.NotFound;
import dev.silo.staff.StaffAccess;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantStatus;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;

/**
 * {@code silo access}: staff access to a tenant's data, from the operator's side (issue 17). A request and its grant
 * are personal, so {@code request} and {@code token} act as the operator whose key is in {@code SILO_OPERATOR_KEY};
 * the tenant's admins decide over the tenant API.
 */
@Command(name = "access", mixinStandardHelpOptions = true,
        description = {"Staff access to a tenant's data, only with the tenant's approval (see README \"Staff access\").",
                "request and token act as the operator whose key is in SILO_OPERATOR_KEY."},
        subcommands = {AccessCommand.Request.class, AccessCommand.ListRequests.class, AccessCommand.Show.class,
                AccessCommand.Token.class})
public final class AccessCommand {
    static Map<String, String> env;
    static PrintStream out;

    public AccessCommand(Map<String, String> env, PrintStream out) {
        AccessCommand.env = env;
        AccessCommand.out = out;
    }

    static StaffAccess staffAccess(SiloCore silo) {
        return new StaffAccess(silo.catalog(), silo.tenantDatabases(), silo.audit(), silo.tenantAudit(), silo.clock(),
                silo.config().tuning().emergencyAccess());
    }

    /** The operator of {@code SILO_OPERATOR_KEY}, as the audit actor. */
    static Actor operator(SiloCore silo) {
        String key = env.get("SILO_OPERATOR_KEY");
        if (key == null || key.isBlank()) {
            throw new ConfigException("SILO_OPERATOR_KEY", "required: a staff-access request and its grant are personal, so "
                    + "this command acts as the operator whose key it is");
        }
        OperatorService.Operator operator = silo.operators().authenticate(key.strip())
                .orElseThrow(() -> new ConfigException("SILO_OPERATOR_KEY", "the operator key is invalid or revoked"));
        return Actor.operator(operator.name(), null, null);
    }

    static Tenant tenant(SiloCore silo, String slug) {
        Tenant tenant = silo.tenants().findLive(slug)
                .orElseThrow(() -> new NotFound("tenant-not-found", "no tenant '" + slug + "'"));
        if (tenant.status() != TenantStatus.ACTIVE) {
            throw new NotFound("tenant-not-found", "tenant '" + slug + "' is " + tenant.status().name().toLowerCase());
        }
        return tenant;
    }

    static String name(Actor actor) {
        return actor.name().substring("operator:".length());
    }

    @Command(name = "request", mixinStandardHelpOptions = true,
            description = "Ask a tenant's admins for access to its data; prints the request (its id, status pending).")
    static final class Request implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Option(names = "--tenant", required = true, paramLabel = "SLUG")
        String tenant;

        @Option(names = "--reason", required = true, description = "why (a ticket, an incident); the tenant's admins read it")
        String reason;

        @Option(names = "--scope", defaultValue = "read", description = "read (default) or read-write")
        String scope;

        @Option(names = "--minutes", required = true, description = "how long the grant lasts once approved (at most 480; 60 for --emergency)")
        int minutes;

        @Option(names = "--emergency", description = "the customer cannot be reached: a second operator approves "
                + "(only with SILO_EMERGENCY_ACCESS=true; read-only, at most 60 minutes, shown to the tenant's admins)")
        boolean emergency;

        @Override
        public Integer call() {
            try (SiloCore silo = core.open(env)) {
                Actor actor = operator(silo);
                Map<String, Object> created = staffAccess(silo).request(tenant(silo, tenant), name(actor), actor,
                        new StaffAccess.NewRequest(reason, scope, minutes, emergency));
                if (core.json) {
                    Output.json(out, created);
                } else {
                    Output.keyValues(out, created);
                    out.println();
                    out.println(emergency
                            ? "A second operator approves it: POST /admin/tenants/" + tenant + "/access-requests/" + created.get("id") + "/approve"
                            : "The tenant's admins approve it: POST /t/" + tenant + "/access-requests/" + created.get("id") + "/approve");
                    out.println("Then pick up the grant's token, once: silo access token " + created.get("id"));
                }
                return 0;
            }
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Access requests and grants, newest first.")
    static final class ListRequests implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Option(names = "--tenant", paramLabel = "SLUG", description = "only this tenant's")
        String tenant;

        @Option(names = "--limit", defaultValue = "50")
        int limit;

        @Override
        public Integer call() {
            try (SiloCore silo = core.open(env)) {
                List<Map<String, Object>> rows = staffAccess(silo).list(tenant == null ? null : tenant(silo, tenant),
                        Math.max(1, Math.min(limit, 500)));
                if (core.json) {
                    Output.json(out, rows);
                } else {
                    Output.table(out, List.of("id", "tenant", "operator", "scope", "emergency", "status", "requested_at", "expires_at",
                            "uses"), List.copyOf(rows));
                }
                return 0;
            }
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "One access request: its reason, decision, grant and uses.")
    static final class Show implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Parameters(index = "0", paramLabel = "ID")
        UUID id;

        @Override
        public Integer call() {
            try (SiloCore silo = core.open(env)) {
                StaffAccess access = staffAccess(silo);
                Map<String, Object> request = access.get(tenant(silo, access.tenantOf(id)), id);
                if (core.json) {
                    Output.json(out, request);
                } else {
                    Output.keyValues(out, request);
                }
                return 0;
            }
        }
    }

    @Command(name = "token", mixinStandardHelpOptions = true,
            description = "Print the grant's token of an approved request of yours, this once (it is never stored in clear).")
    static final class Token implements Callable<Integer> {
        @Mixin
        CoreOptions core;

        @Parameters(index = "0", paramLabel = "ID")
        UUID id;

        @Override
        public Integer call() {
            try (SiloCore silo = core.open(env)) {
                Actor actor = operator(silo);
                StaffAccess access = staffAccess(silo);
                StaffAccess.IssuedGrant grant = access.issueToken(tenant(silo, access.tenantOf(id)), id, name(actor), actor);
                if (core.json) {
                    Output.json(out, Map.of("id", grant.id(), "token", grant.token(), "scope", grant.scope(),
                            "expires_at", grant.expiresAt()));
                } else {
                    out.println("Grant " + grant.id() + " (" + grant.scope() + ", until " + grant.expiresAt() + "). Its token is "
                            + "shown this once:");
                    out.println();
                    out.println("  " + grant.token());
                    out.println();
                    out.println("Use it as: Authorization: Bearer <token>, on /t/" + access.tenantOf(id) + "/collections/... only");
                }
                return 0;
            }
        }
    }
}
