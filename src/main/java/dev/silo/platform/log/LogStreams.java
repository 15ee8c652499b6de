package dev.silo.platform.log;

/**
 * Which of the three log streams (claim C21) a logger belongs to: {@code api} is the request log (one line
 * per request, logger {@code silo.api}); {@code app} is Silo's own application events (tenants, users,
 * access, backups); {@code system} is the platform underneath: the embedded PostgreSQL, pools, migrations,
 * the HTTP server, start and stop of the node.
 */
public final class LogStreams {
    private LogStreams() {}

    public static String of(String loggerName) {
        if (loggerName == null) {
            return "system";
        }
        if (loggerName.equals("silo.api")) {
            return "api";
        }
        if (loggerName.startsWith("dev.silo.") && !loggerName.startsWith("dev.silo.platform.")
                && !loggerName.startsWith("dev.silo.app.") && !loggerName.startsWith("dev.silo.cli.")
                && !loggerName.startsWith("dev.silo.health.")) {
            return "app";
        }
        return "system";
    }
}
