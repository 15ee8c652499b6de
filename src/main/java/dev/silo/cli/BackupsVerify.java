package dev.silo.cli;

import dev.silo.app.SiloCore;
import dev.silo.audit.Actor;
import dev.silo.backup.BackupStore;
import dev.silo.backup.BackupStores;
import dev.silo.backup.drill.DrillResult;
import dev.silo.backup.drill.RestoreDrill;
import dev.silo.backup.drill.RestoreDrills;
import dev.silo.platform.db.EmbeddedPostgresServer;
import dev.silo.platform.problem.Conflict;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.io.IOException;
import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code silo backups verify}: a restore drill now, in this process, recorded like a scheduled one. */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Run a restore drill now: restore the newest base backup plus the WAL after it into "
                + "<data dir>/drill on a scratch port, read every page of every database (data checksums verified), "
                + "check the B-tree indexes, and compare each audit chain with the live one; the copy is removed afterwards.",
                "Progress goes to stderr, the summary to stdout; the outcome is recorded in the platform audit "
                        + "(backup.drill). Exit 1 when the drill fails or another one is running."})
final class BackupsVerify implements Callable<Integer> {
    @Mixin
    CoreOptions core;

    @Override
    public Integer call() throws IOException {
        PrintStream out = BackupsCommand.out;
        try (SiloCore silo = core.open(BackupsCommand.env)) {
            if (silo.embedded().isEmpty()) {
                throw new Conflict("backups-external", "Silo does not host this PostgreSQL, so it cannot restore it in a "
                        + "drill: use the provider's own continuous protection");
            }
            EmbeddedPostgresServer server = silo.embedded().get();
            PrintStream err = System.err;
            try (BackupStore store = BackupStores.open(silo.config(), silo.envelope());
                 RestoreDrills drills = new RestoreDrills(() -> server.adminUrl(SiloCore.CATALOG_DATABASE), silo.catalog(),
                         silo.audit(), new RestoreDrill(store, silo.envelope(), silo.config().dataDir().resolve("drill"),
                         server::adminUrl, SiloCore.CATALOG_DATABASE, silo.clock()), silo.clock())) {
                DrillResult result = drills.runNow(Actor.cli(), err::println);
                if (core.json) {
                    Output.json(out, result.view());
                } else {
                    Map<String, Object> view = new LinkedHashMap<>(result.view());
                    view.put("databases", result.databases().size());
                    Output.keyValues(out, view);
                }
                return result.passed() ? 0 : 1;
            }
        }
    }
}
