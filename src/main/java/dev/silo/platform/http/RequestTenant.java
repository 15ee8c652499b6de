package dev.silo.platform.http;

import org.slf4j.MDC;

import java.util.UUID;

/**
 * Names the tenant of the request being served in the logging context, once it is resolved: every log line of
 * the request after that (its {@code api} line included) carries {@code tenant} (the slug, what an operator
 * filters the live tail by) and {@code tenant_id} (what an error report carries: the id, which never changes and
 * names nobody). The HTTP edge clears both when the request ends.
 */
public final class RequestTenant {
    public static final String SLUG_KEY = "tenant";
    public static final String ID_KEY = "tenant_id";

    private RequestTenant() {}

    public static void resolved(UUID id, String slug) {
        MDC.put(ID_KEY, id.toString());
        MDC.put(SLUG_KEY, slug);
    }

    static void clear() {
        MDC.remove(ID_KEY);
        MDC.remove(SLUG_KEY);
    }
}
