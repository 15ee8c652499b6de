package dev.silo.staff;

import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * One staff-access request, as {@code staff_access_requests} holds it: asked by an operator, decided by the tenant's
 * admins (or for an emergency by a second operator), a grant while approved and not past {@code expiresAt}.
 */
record AccessRequest(UUID id, UUID tenantId, String tenantSlug, String operatorName, String operatorEmail, String reason,
                     String scope, int durationMinutes, boolean emergency, String status, Instant requestedAt,
                     Instant decidedAt, String decidedBy, Instant expiresAt, boolean tokenIssued, Instant endedAt,
                     String endedBy, long uses, Instant lastUsedAt) {
    static final String READ = "read";
    static final String READ_WRITE = "read-write";
    static final String PENDING = "pending";
    static final String APPROVED = "approved";
    static final String DENIED = "denied";
    static final String REVOKED = "revoked";
    static final String EXPIRED = "expired";

    AccessRequest {
        requireNonNull(id, "id is null");
        requireNonNull(tenantId, "tenantId is null");
        requireNonNull(operatorName, "operatorName is null");
        requireNonNull(scope, "scope is null");
        requireNonNull(status, "status is null");
    }

    /** The status as of {@code now}: an approved grant past its end reads as expired before the sweep marks it. */
    String statusAt(Instant now) {
        return status.equals(APPROVED) && !now.isBefore(expiresAt) ? EXPIRED : status;
    }

    boolean liveAt(Instant now) {
        return statusAt(now).equals(APPROVED);
    }

    /** What both sides see; never the token or its hash. */
    Map<String, Object> view(Instant now) {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("id", id);
        view.put("tenant", tenantSlug);
        view.put("operator", operatorName);
        view.put("operator_email", operatorEmail);
        view.put("reason", reason);
        view.put("scope", scope);
        view.put("duration_minutes", durationMinutes);
        view.put("emergency", emergency);
        view.put("status", statusAt(now));
        view.put("requested_at", requestedAt);
        view.put("decided_at", decidedAt);
        view.put("decided_by", decidedBy);
        view.put("expires_at", expiresAt);
        view.put("token_issued", tokenIssued);
        view.put("ended_at", endedAt);
        view.put("ended_by", endedBy);
        view.put("uses", uses);
        view.put("last_used_at", lastUsedAt);
        return view;
    }

    /** The fields every audit entry about this request carries. */
    Map<String, Object> auditDetail(String event) {
        Map<String, Object> detail = new LinkedHashMap<>();
        detail.put("event", event);
        detail.put("grant_id", id.toString());
        detail.put("operator", operatorName);
        detail.put("reason", reason);
        detail.put("scope", scope);
        detail.put("emergency", emergency);
        return detail;
    }
}
