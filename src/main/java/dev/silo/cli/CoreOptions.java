package dev.silo.cli;

import dev.silo.app.SiloCore;
import dev.silo.platform.config.SiloConfig;
import picocli.CommandLine.Option;

import java.time.Clock;
import java.util.Map;

/**
 * Where a command finds Silo: the data directory (embedded mode) or the external catalog. Commands act on
 * the catalog directly, whether or not a server is running: with a server up they use its PostgreSQL, and
 * the server learns of every change at once; with none they start the embedded PostgreSQL for the command.
 */
public final class CoreOptions {
    @Option(names = "--data-dir", paramLabel = "DIR", description = "data directory (default: $SILO_DATA_DIR or ./silo-data)")
    String dataDir;

    @Option(names = "--database-url", paramLabel = "URL", description = "external catalog (default: $SILO_DATABASE_URL or $DATABASE_URL)")
    String databaseUrl;

    @Option(names = "--json", description = "print JSON instead of text")
    boolean json;

    SiloCore open(Map<String, String> env) {
        SiloConfig config = SiloConfig.resolve(new SiloConfig.Flags("0", dataDir, databaseUrl, null), env);
        return SiloCore.open(config, Clock.systemUTC(), SiloCore.Mode.COMMAND);
    }
}
