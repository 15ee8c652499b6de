package dev.silo.staff;

import dev.silo.audit.Actor;
import dev.silo.audit.TenantAudit;
import dev.silo.auth.Caller;
import dev.silo.auth.OpaqueTokens;
import dev.silo.auth.RequestContext;
import dev.silo.auth.TokenService;
import dev.silo.platform.db.Sql;
import dev.silo.platform.problem.Forbidden;
import dev.silo.platform.problem.Problem;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantService;
import dev.silo.user.User;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.sql.DataSource;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * Requests made with a staff-access grant ({@code silo_ga_...}), and the end of grants at their time.
 *
 * <p>Every use reads the grant's row in the catalog under a row lock, in the transaction that writes the platform
 * audit entry of the use, and writes the tenant's entry before that commits; nothing is cached. So a revocation
 * committed on any node refuses the very next request on every node (stricter than the sessions' cache, which
 * needs a catalog event), a use is never served unrecorded, and the cost, two small writes, is paid only by staff.
 */
public final class StaffGrants {
    private static final Logger log = LoggerFactory.getLogger(StaffGrants.class);

    /** What the route tells about one request made with a grant. */
    public record Use(String method, String route, String collection, String recordId, RequestContext request) {
        public Use {
            requireNonNull(method, "method is null");
            requireNonNull(route, "route is null");
            requireNonNull(request, "request is null");
        }

        boolean write() {
            return !method.equals("GET") && !method.equals("HEAD");
        }
    }

    private final StaffAccess access;
    private final DataSource catalog;
    private final TenantService tenants;

    public StaffGrants(StaffAccess access, DataSource catalog, TenantService tenants) {
        this.access = requireNonNull(access, "access is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.tenants = requireNonNull(tenants, "tenants is null");
    }

    /**
     * The caller of a data-route request made with {@code token} at {@code tenant}, after checking that the grant is
     * this tenant's, approved, unexpired, unrevoked and of a scope that allows the method, and recording the use in
     * both audit logs. Refusals of a real grant are recorded in the platform log.
     */
    public Caller authenticate(Tenant tenant, String token, Use use) {
        if (!OpaqueTokens.isWellFormed(OpaqueTokens.Kind.STAFF_GRANT, token)) {
            throw TokenService.invalidToken();
        }
        Instant now = access.clock().instant();
        record Outcome(AccessRequest grant, Problem refusal) {}
        Outcome outcome = Sql.inTransaction(catalog, connection -> {
            Optional<AccessRequest> found = AccessRequests.findByToken(connection, OpaqueTokens.hash(token));
            if (found.isEmpty()) {
                return new Outcome(null, TokenService.invalidToken());
            }
            AccessRequest grant = found.get();
            Actor actor = Actor.operator(grant.operatorName(), use.request().requestId(), use.request().clientAddress().getHostAddress());
            Problem refusal = refusal(grant, tenant, use, now);
            if (refusal == null && !AccessRequests.operatorActive(connection, grant.operatorName())) {
                refusal = new Forbidden("grant-operator-revoked", "the operator of this staff access grant ('"
                        + grant.operatorName() + "') has been revoked, and their grants with them");
            }
            Map<String, Object> detail = grant.auditDetail("access");
            detail.put("method", use.method());
            detail.put("route", use.route());
            detail.put("collection", use.collection());
            detail.put("record_id", use.recordId());
            if (refusal != null) {
                detail.put("refused", refusal.type());
                if (grant.status().equals(AccessRequest.APPROVED) && !now.isBefore(grant.expiresAt())) {
                    expire(connection, grant, now); // the first use after the end records the expiry, if the sweep has not
                }
                access.platformAuditOnly(connection, actor, "staff-access.refused", "tenant:" + tenant.slug(), detail);
                return new Outcome(grant, refusal);
            }
            AccessRequests.countUse(connection, grant.id(), now);
            access.record(connection, tenant, actor, use.request().audit(actor.name()), grant, "access", detail);
            return new Outcome(grant, null);
        });
        if (outcome.refusal() != null) {
            throw outcome.refusal();
        }
        AccessRequest grant = outcome.grant();
        User staff = new User(grant.id(), grant.operatorEmail(), Caller.STAFF, false, null, grant.requestedAt(), grant.requestedAt(),
                grant.requestedAt());
        return new Caller(tenant, grant.id(), Caller.STAFF, grant.id(), use.request(), staff, "operator:" + grant.operatorName());
    }

    /**
     * The records a use returned (a listing) or made (a create), as a second entry in both logs ({@code event}
     * {@code records}), written before the answer leaves: the tenant learns not only which route staff called but
     * which records they saw.
     */
    public void recordResult(Caller caller, Use use, List<String> recordIds) {
        Sql.inTransaction(catalog, connection -> {
            AccessRequest grant = AccessRequests.findAny(connection, caller.userId())
                    .orElseThrow(() -> new IllegalStateException("grant " + caller.userId() + " vanished during its use"));
            Actor actor = Actor.operator(grant.operatorName(), use.request().requestId(), use.request().clientAddress().getHostAddress());
            Map<String, Object> detail = new LinkedHashMap<>();
            detail.put("method", use.method());
            detail.put("route", use.route());
            detail.put("collection", use.collection());
            detail.put("record_ids", recordIds);
            access.record(connection, caller.tenant(), actor, use.request().audit(actor.name()), grant, "records", detail);
            return null;
        });
    }

    private static Problem refusal(AccessRequest grant, Tenant tenant, Use use, Instant now) {
        if (!grant.tenantId().equals(tenant.id())) {
            return new Forbidden("grant-other-tenant", "this staff access grant is for another tenant; it works only on its own "
                    + "tenant's records and collections");
        }
        String status = grant.statusAt(now);
        if (!status.equals(AccessRequest.APPROVED)) {
            return new Forbidden("grant-" + status, "this staff access grant is " + status
                    + (status.equals(AccessRequest.EXPIRED) ? " (it ended at " + grant.expiresAt() + ")" : ""));
        }
        if (use.write() && !grant.scope().equals(AccessRequest.READ_WRITE)) {
            return new Forbidden("grant-read-only", "this staff access grant is read-only: " + use.method() + " is refused");
        }
        return null;
    }

    /** Marks approved grants past their end as expired, in both logs; run by every node, each grant once. */
    public int expireDue() {
        Instant now = access.clock().instant();
        int expired = 0;
        while (true) {
            int round = Sql.inTransaction(catalog, connection -> {
                List<AccessRequest> due = AccessRequests.due(connection, now, 50);
                for (AccessRequest grant : due) {
                    expire(connection, grant, now);
                }
                return due.size();
            });
            expired += round;
            if (round < 50) {
                return expired;
            }
        }
    }

    private void expire(java.sql.Connection connection, AccessRequest grant, Instant now) throws java.sql.SQLException {
        AccessRequests.end(connection, grant.id(), AccessRequest.EXPIRED, grant.expiresAt(), "system");
        Map<String, Object> extra = new LinkedHashMap<>();
        extra.put("expires_at", grant.expiresAt().toString());
        extra.put("uses", grant.uses());
        Optional<Tenant> tenant = tenants.findLive(grant.tenantSlug());
        if (tenant.isPresent() && tenant.get().id().equals(grant.tenantId())) {
            access.record(connection, tenant.get(), Actor.SYSTEM, TenantAudit.Context.SYSTEM, grant, "expire", extra);
        } else {
            Map<String, Object> detail = grant.auditDetail("expire");
            detail.putAll(extra);
            access.platformAuditOnly(connection, Actor.SYSTEM, "staff-access.expire", "tenant:" + grant.tenantSlug(), detail);
        }
    }

    /** For the node's job scheduler: a failure is logged, the next round tries again. */
    public void runExpiry() {
        try {
            int expired = expireDue();
            if (expired > 0) {
                log.info("Staff access: {} grant(s) reached their end", expired);
            }
        } catch (RuntimeException e) {
            log.warn("Staff access expiry failed: {}", e.toString());
        }
    }
}
