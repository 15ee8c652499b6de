package dev.silo.audit;

import static java.util.Objects.requireNonNull;

/**
 * Who did something, for the audit logs: an operator over the API ({@code operator:alice}), the command line
 * on the server ({@code cli:root@host}) or Silo itself ({@code system}).
 */
public record Actor(String name, String requestId, String clientIp) {
    public static final Actor SYSTEM = new Actor("system", null, null);

    public Actor {
        requireNonNull(name, "name is null");
    }

    public static Actor operator(String operatorName, String requestId, String clientIp) {
        return new Actor("operator:" + operatorName, requestId, clientIp);
    }

    public static Actor cli() {
        String user = System.getProperty("user.name", "unknown");
        String host = System.getenv().getOrDefault("HOSTNAME", "localhost");
        return new Actor("cli:" + user + "@" + host, null, null);
    }
}
