package dev.silo.staff;

import dev.silo.audit.Actor;
import dev.silo.audit.PlatformAudit;
import dev.silo.audit.TenantAudit;
import dev.silo.auth.Caller;
import dev.silo.auth.OpaqueTokens;
import dev.silo.platform.db.Sql;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.Conflict;
import dev.silo.platform.problem.Forbidden;
import dev.silo.platform.problem.NotFound;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantDatabases;
import dev.silo.user.UserService;

import javax.sql.DataSource;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * Staff access to a tenant's data only with that customer's approval (issue 17, claim C19): an operator asks with a
 * reason, a scope and a duration; the tenant's admins approve or deny; the requesting operator picks up the grant
 * token once; the tenant's admins revoke it whenever they like. Every step is written to both audit logs, the
 * tenant's (type {@code staff-access}) and the platform's ({@code staff-access.*}).
 *
 * <p>Nothing is granted by operators alone, except through the emergency path, which is off unless
 * {@code SILO_EMERGENCY_ACCESS=true}, needs a second, different operator to approve, is read-only and at most 60
 * minutes, and is in the tenant's log like every other grant.
 *
 * <p>An operator is linked to a tenant account by e-mail: an operator needs a registered e-mail
 * ({@code silo operators set-email}) to request access, and a tenant admin whose canonical e-mail is the operator's
 * (compared without a {@code +tag}) cannot approve it.
 *
 * <p>Each change writes the tenant's audit entry inside the catalog transaction that makes it, so a grant never
 * exists without the tenant's log saying so.
 */
public final class StaffAccess {
    public static final int MAX_MINUTES = 480;
    public static final int MAX_EMERGENCY_MINUTES = 60;
    static final String AUDIT_TYPE = "staff-access";

    /** What an operator asks for. */
    public record NewRequest(String reason, String scope, Integer durationMinutes, Boolean emergency) {}

    /** A grant's token, shown this once to the requesting operator. */
    public record IssuedGrant(UUID id, String token, String scope, Instant expiresAt) {
        @Override
        public String toString() {
            return "IssuedGrant[" + id + " " + scope + " until " + expiresAt + "]";
        }
    }

    private final DataSource catalog;
    private final TenantDatabases databases;
    private final PlatformAudit platformAudit;
    private final TenantAudit tenantAudit;
    private final Clock clock;
    private final boolean emergencyEnabled;

    public StaffAccess(DataSource catalog, TenantDatabases databases, PlatformAudit platformAudit, TenantAudit tenantAudit,
                       Clock clock, boolean emergencyEnabled) {
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.databases = requireNonNull(databases, "databases is null");
        this.platformAudit = requireNonNull(platformAudit, "platformAudit is null");
        this.tenantAudit = requireNonNull(tenantAudit, "tenantAudit is null");
        this.clock = requireNonNull(clock, "clock is null");
        this.emergencyEnabled = emergencyEnabled;
    }

    Clock clock() {
        return clock;
    }

    // ---- the operator's side

    public Map<String, Object> request(Tenant tenant, String operatorName, Actor actor, NewRequest body) {
        requireNonNull(body, "body is null");
        boolean emergency = Boolean.TRUE.equals(body.emergency());
        String reason = reason(body.reason());
        String scope = scope(body.scope());
        int minutes = duration(body.durationMinutes(), emergency);
        if (emergency) {
            if (!emergencyEnabled) {
                throw new Forbidden("emergency-access-disabled", "emergency access is off on this installation "
                        + "(SILO_EMERGENCY_ACCESS); ask the tenant's admins to approve a request");
            }
            if (!scope.equals(AccessRequest.READ)) {
                throw new BadRequest("invalid-scope", "an emergency request is read-only: 'scope' must be 'read'");
            }
        }
        Instant now = clock.instant();
        AccessRequest created = Sql.inTransaction(catalog, connection -> {
            String email = AccessRequests.operatorEmail(connection, operatorName).orElseThrow(() -> new Forbidden(
                    "operator-email-required", "operator '" + operatorName + "' has no e-mail on record: run `silo operators "
                    + "set-email " + operatorName + " EMAIL` first, so that no tenant account of yours can approve your request"));
            AccessRequest request = new AccessRequest(UUID.randomUUID(), tenant.id(), tenant.slug(), operatorName, email, reason,
                    scope, minutes, emergency, AccessRequest.PENDING, now, null, null, null, false, null, null, 0, null);
            AccessRequests.insert(connection, request);
            record(connection, tenant, actor, request, "request", Map.of("duration_minutes", minutes));
            return request;
        });
        return created.view(now);
    }

    public List<Map<String, Object>> list(Tenant tenant, int limit) {
        Instant now = clock.instant();
        return Sql.withConnection(catalog, connection -> AccessRequests.list(connection, tenant == null ? null : tenant.id(), limit))
                .stream().map(request -> request.view(now)).toList();
    }

    public Map<String, Object> get(Tenant tenant, UUID id) {
        return Sql.withConnection(catalog, connection -> require(connection, tenant, id, false)).view(clock.instant());
    }

    /** The slug of the tenant request {@code id} is for (the command line names requests by id alone). */
    public String tenantOf(UUID id) {
        return Sql.withConnection(catalog, connection -> AccessRequests.findAny(connection, id))
                .map(AccessRequest::tenantSlug)
                .orElseThrow(() -> new NotFound("access-request-not-found", "no access request " + id));
    }

    /** The emergency path: a second operator, not the requester, approves an emergency request. */
    public Map<String, Object> approveEmergency(Tenant tenant, UUID id, String operatorName, Actor actor) {
        Instant now = clock.instant();
        return Sql.inTransaction(catalog, connection -> {
            AccessRequest request = require(connection, tenant, id, true);
            if (!request.emergency()) {
                throw new Forbidden("customer-approval-required", "only the tenant's admins approve this request "
                        + "(POST /t/" + tenant.slug() + "/access-requests/" + id + "/approve); operators approve emergency requests only");
            }
            if (!emergencyEnabled) {
                throw new Forbidden("emergency-access-disabled", "emergency access is off on this installation (SILO_EMERGENCY_ACCESS)");
            }
            requirePending(request, now);
            if (request.operatorName().equals(operatorName)) {
                throw new Forbidden("second-operator-required", "an emergency request needs a second, different operator to "
                        + "approve it; '" + operatorName + "' made it");
            }
            return approve(connection, tenant, request, actor.name(), actor, null, now);
        });
    }

    /**
     * The requesting operator picks up the grant's token, once, after approval. The token is made here, so it is
     * never stored in clear (only its SHA-256), and a second pick-up is refused: a lost token means a new request.
     */
    public IssuedGrant issueToken(Tenant tenant, UUID id, String operatorName, Actor actor) {
        Instant now = clock.instant();
        return Sql.inTransaction(catalog, connection -> {
            AccessRequest request = require(connection, tenant, id, true);
            if (!request.operatorName().equals(operatorName)) {
                throw new Forbidden("not-your-request", "only the operator who made the request ('" + request.operatorName()
                        + "') picks up its grant");
            }
            String status = request.statusAt(now);
            if (!status.equals(AccessRequest.APPROVED)) {
                throw new Conflict(status.equals(AccessRequest.PENDING) ? "access-request-pending" : "access-request-" + status,
                        "the request is " + status + ": there is no grant to pick up");
            }
            if (request.tokenIssued()) {
                throw new Conflict("grant-token-issued", "the grant's token was already picked up, and it is shown only once; "
                        + "if it is lost, ask the tenant's admins to revoke the grant and make a new request");
            }
            String token = OpaqueTokens.generate(OpaqueTokens.Kind.STAFF_GRANT);
            AccessRequests.issueToken(connection, id, OpaqueTokens.hash(token), now);
            platformAudit.append(connection, actor, "staff-access.token", "tenant:" + tenant.slug(), request.auditDetail("token"));
            return new IssuedGrant(id, token, request.scope(), request.expiresAt());
        });
    }

    // ---- the tenant's side

    public Map<String, Object> approve(Caller admin, UUID id) {
        Instant now = clock.instant();
        return Sql.inTransaction(catalog, connection -> {
            AccessRequest request = require(connection, admin.tenant(), id, true);
            requirePending(request, now);
            String approver = UserService.normalizeEmail(admin.user().email());
            String current = AccessRequests.operatorEmail(connection, request.operatorName()).orElse(request.operatorEmail());
            if (sameMailbox(approver, request.operatorEmail()) || sameMailbox(approver, current)) {
                throw new Forbidden("self-approval", "this account has the e-mail of operator '" + request.operatorName()
                        + "', who made the request: another admin of the tenant must approve it");
            }
            return approve(connection, admin.tenant(), request, admin.actor(), null, admin.audit(), now);
        });
    }

    public Map<String, Object> deny(Caller admin, UUID id) {
        Instant now = clock.instant();
        return Sql.inTransaction(catalog, connection -> {
            AccessRequest request = require(connection, admin.tenant(), id, true);
            requirePending(request, now);
            AccessRequests.decide(connection, id, AccessRequest.DENIED, now, admin.actor(), null);
            record(connection, admin.tenant(), admin, request, "deny", Map.of());
            return require(connection, admin.tenant(), id, false).view(now);
        });
    }

    /**
     * {@code DELETE}: ends a grant at once (revoked), or withdraws a request still pending (denied). The next request
     * with the grant's token, on any node, is refused: every use reads the grant's row in the catalog.
     */
    public Map<String, Object> revoke(Caller admin, UUID id) {
        Instant now = clock.instant();
        return Sql.inTransaction(catalog, connection -> {
            AccessRequest request = require(connection, admin.tenant(), id, true);
            String status = request.statusAt(now);
            switch (status) {
                case AccessRequest.PENDING -> {
                    AccessRequests.decide(connection, id, AccessRequest.DENIED, now, admin.actor(), null);
                    record(connection, admin.tenant(), admin, request, "deny", Map.of());
                }
                case AccessRequest.APPROVED -> {
                    AccessRequests.end(connection, id, AccessRequest.REVOKED, now, admin.actor());
                    record(connection, admin.tenant(), admin, request, "revoke", Map.of());
                }
                default -> throw new Conflict("access-request-" + status, "the request is already " + status);
            }
            return require(connection, admin.tenant(), id, false).view(now);
        });
    }

    // ---- shared

    private Map<String, Object> approve(Connection connection, Tenant tenant, AccessRequest request, String by, Actor operator,
                                        TenantAudit.Context tenantContext, Instant now) throws SQLException {
        Instant expires = now.plus(Duration.ofMinutes(request.durationMinutes()));
        AccessRequests.decide(connection, request.id(), AccessRequest.APPROVED, now, by, expires);
        Map<String, Object> extra = Map.of("approved_by", by, "expires_at", expires.toString(),
                "duration_minutes", request.durationMinutes());
        if (operator != null) {
            record(connection, tenant, operator, request, request.emergency() ? "emergency-approve" : "approve", extra);
        } else {
            record(connection, tenant, new Actor(by, tenantContext.requestId(), tenantContext.clientIp()), tenantContext, request,
                    "approve", extra);
        }
        return require(connection, tenant, request.id(), false).view(now);
    }

    private void record(Connection connection, Tenant tenant, Caller admin, AccessRequest request, String event,
                        Map<String, Object> extra) throws SQLException {
        TenantAudit.Context context = admin.audit();
        record(connection, tenant, new Actor(admin.actor(), context.requestId(), context.clientIp()), context, request, event, extra);
    }

    private void record(Connection connection, Tenant tenant, Actor actor, AccessRequest request, String event,
                        Map<String, Object> extra) throws SQLException {
        record(connection, tenant, actor, new TenantAudit.Context(actor.name(), actor.clientIp(), null, actor.requestId()), request,
                event, extra);
    }

    /**
     * One step in both logs: the platform's in this catalog transaction, the tenant's in its own database, committed
     * first (a failure there aborts the step, so the tenant's log never lacks one).
     */
    void record(Connection catalogConnection, Tenant tenant, Actor actor, TenantAudit.Context context, AccessRequest request,
                String event, Map<String, Object> extra) throws SQLException {
        Map<String, Object> detail = request.auditDetail(event);
        detail.putAll(extra);
        databases.inTransaction(tenant, connection -> {
            tenantAudit.append(connection, context, AUDIT_TYPE, request.id().toString(), detail);
            return null;
        });
        platformAudit.append(catalogConnection, actor, "staff-access." + event, "tenant:" + tenant.slug(), detail);
    }

    void platformAuditOnly(Connection catalogConnection, Actor actor, String action, String target, Map<String, Object> detail)
            throws SQLException {
        platformAudit.append(catalogConnection, actor, action, target, detail);
    }

    private static AccessRequest require(Connection connection, Tenant tenant, UUID id, boolean lock) throws SQLException {
        return AccessRequests.find(connection, tenant.id(), id, lock).orElseThrow(() -> new NotFound("access-request-not-found",
                "no access request " + id + " for tenant '" + tenant.slug() + "'"));
    }

    private static void requirePending(AccessRequest request, Instant now) {
        String status = request.statusAt(now);
        if (!status.equals(AccessRequest.PENDING)) {
            throw new Conflict("access-request-decided", "the request is already " + status
                    + (request.decidedBy() == null ? "" : " (by " + request.decidedBy() + ")"));
        }
    }

    /** Two canonical addresses are one mailbox when they differ only by a {@code +tag} in the local part. */
    static boolean sameMailbox(String a, String b) {
        return a != null && b != null && withoutTag(a).equals(withoutTag(b));
    }

    private static String withoutTag(String email) {
        int at = email.lastIndexOf('@');
        if (at < 0) {
            return email;
        }
        String local = email.substring(0, at);
        int plus = local.indexOf('+');
        return (plus < 0 ? local : local.substring(0, plus)) + email.substring(at);
    }

    private static String reason(String reason) {
        String text = reason == null ? "" : reason.strip();
        if (text.length() < 10 || text.length() > 1000 || text.codePoints().anyMatch(c -> Character.isISOControl(c) && c != '\n')) {
            throw new BadRequest("invalid-reason", "'reason' is required: 10 to 1000 characters saying why (a ticket, an "
                    + "incident), without control characters; the tenant's admins read it");
        }
        return text;
    }

    private static String scope(String scope) {
        if (scope == null) {
            throw new BadRequest("invalid-scope", "'scope' is required: 'read' or 'read-write'");
        }
        String value = scope.toLowerCase(Locale.ROOT);
        if (!value.equals(AccessRequest.READ) && !value.equals(AccessRequest.READ_WRITE)) {
            throw new BadRequest("invalid-scope", "'scope' must be 'read' or 'read-write'");
        }
        return value;
    }

    private static int duration(Integer minutes, boolean emergency) {
        int max = emergency ? MAX_EMERGENCY_MINUTES : MAX_MINUTES;
        if (minutes == null || minutes < 1) {
            throw new BadRequest("invalid-duration", "'duration_minutes' is required: 1 to " + max);
        }
        if (minutes > max) {
            throw new BadRequest("duration-too-long", "'duration_minutes' is at most " + max
                    + (emergency ? " for an emergency request" : "") + "; got " + minutes, Map.of("max", max));
        }
        return minutes;
    }
}
