package dev.silo.platform.log;

/**
 * Which of the three log streams (claim C21) a logger belongs to: {@code api} is the request log (one line
 * per request, logger {@code silo.api}); {@code app} is Silo's own application events (tenants, users,
 * access, backups); {@code system} is the platform underneath: the embedded PostgreSQL, pools, migrations,
 * the HTTP server and the JVM.
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
        if (loggerName.startsWith("dev.silo.") && !loggerName.startsWith("dev.silo.platform.")) {
            return "app";
        }
        return "system";
    }
}
