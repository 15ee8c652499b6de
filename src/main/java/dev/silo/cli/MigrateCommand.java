package dev.silo.cli;

import dev.silo.app.SiloCore;
import dev.silo.platform.config.SiloConfig;
import dev.silo.platform.db.CatalogMigrations;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import static java.util.Objects.requireNonNull;

/**
 * {@code silo migrate}: the catalog brought up to this build, once per release, before the release's nodes start
 * (the Procfile's {@code release:} line on Heroku, a Job or init container on Kubernetes). Running it again, or on
 * two machines at once, changes nothing the second time: Flyway holds an advisory lock while it migrates.
 */
@Command(name = "migrate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Migrate the catalog database to this build's schema, then stop; a catalog already current is left as it is.",
                "Run it once per release before the nodes start (Heroku: the Procfile's release phase); nodes with",
                "SILO_MIGRATE_AT_START=off (the default where DYNO is set) then only check the catalog's version."})
public final class MigrateCommand implements Callable<Integer> {
    private final Map<String, String> env;
    private final PrintStream out;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "data directory (default: $SILO_DATA_DIR or ./silo-data)")
    String dataDir;

    @Option(names = "--database-url", paramLabel = "URL", description = "external catalog (default: $SILO_DATABASE_URL or $DATABASE_URL)")
    String databaseUrl;

    @Option(names = "--json", description = "print JSON instead of text")
    boolean json;

    public MigrateCommand(Map<String, String> env, PrintStream out) {
        this.env = requireNonNull(env, "env is null");
        this.out = requireNonNull(out, "out is null");
    }

    @Override
    public Integer call() {
        SiloConfig config = SiloConfig.resolve(new SiloConfig.Flags("0", dataDir, databaseUrl, null), env);
        CatalogMigrations.Result result = SiloCore.migrateCatalog(config);
        if (json) {
            Map<String, Object> fields = new LinkedHashMap<>();
            fields.put("from", result.from());
            fields.put("to", result.to());
            fields.put("applied", result.applied());
            fields.put("build_needs", CatalogMigrations.LATEST_VERSION);
            Output.json(out, fields);
        } else if (result.applied() == 0) {
            out.println("catalog schema " + result.to() + ": up to date (this build needs " + CatalogMigrations.LATEST_VERSION + ")");
        } else {
            out.println("catalog schema " + result.from() + " -> " + result.to() + ": " + result.applied() + " migration(s) applied");
        }
        return 0;
    }
}
