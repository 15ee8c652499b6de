package dev.silo.auth;

import dev.silo.audit.TenantAudit;

import java.net.InetAddress;

import static java.util.Objects.requireNonNull;

/** Where a request comes from, for throttling and the audit log. */
public record RequestContext(InetAddress clientAddress, String userAgent, String requestId) {
    public RequestContext {
        requireNonNull(clientAddress, "clientAddress is null");
    }

    public static RequestContext local() {
        return new RequestContext(InetAddress.getLoopbackAddress(), "silo-cli", null);
    }

    public TenantAudit.Context audit(String actor) {
        return new TenantAudit.Context(actor, clientAddress.getHostAddress(), userAgent, requestId);
    }
}
