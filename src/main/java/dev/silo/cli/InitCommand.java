package dev.silo.cli;

import dev.silo.app.Silo;
import dev.silo.platform.config.SiloConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.Map;
import java.util.concurrent.Callable;

import static java.util.Objects.requireNonNull;

/**
 * {@code silo init}: what the first {@code silo serve} does to an empty data directory (master key, PostgreSQL
 * cluster, catalog, bootstrap operator), without serving. With {@code silo serve}, the only command that
 * creates a data directory; running it again on one changes nothing.
 */
@Command(name = "init", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Create and initialise a data directory (master key unless SILO_MASTER_KEY is set, PostgreSQL,",
                "catalog, bootstrap operator key), then stop. Does nothing to a data directory that is initialised already.",
                "With an external catalog (SILO_DATABASE_URL), migrates the catalog."})
public final class InitCommand implements Callable<Integer> {
    private final Map<String, String> env;
    private final PrintStream out;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "data directory (default: $SILO_DATA_DIR or ./silo-data)")
    String dataDir;

    @Option(names = "--database-url", paramLabel = "URL", description = "external catalog (default: $SILO_DATABASE_URL or $DATABASE_URL)")
    String databaseUrl;

    public InitCommand(Map<String, String> env, PrintStream out) {
        this.env = requireNonNull(env, "env is null");
        this.out = requireNonNull(out, "out is null");
    }

    @Override
    public Integer call() {
        SiloConfig config = SiloConfig.resolve(new SiloConfig.Flags("0", dataDir, databaseUrl, null), env);
        Silo.Initialised result = Silo.init(config);
        if (!config.embedded()) {
            out.println("catalog at " + config.databaseUrl().orElseThrow() + " is migrated");
        } else if (!result.created()) {
            out.println("data directory " + result.dataDir() + " is initialised already; nothing to do (start it with `silo serve`)");
        } else {
            out.println("initialised data directory " + result.dataDir());
            result.bootstrapOperator().ifPresent(created -> out.println("created the operator 'bootstrap'; its API key is in "
                    + result.dataDir().resolve(Silo.BOOTSTRAP_KEY_FILE) + " (mode 0600)"));
            out.println("start it with `silo serve" + (dataDir == null ? "" : " --data-dir " + dataDir) + "`");
        }
        return 0;
    }
}
