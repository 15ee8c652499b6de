package dev.silo.cli;

import dev.silo.app.BuildInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "version", mixinStandardHelpOptions = true,
        description = "Print the release version, git commit, catalog schema version and bundled PostgreSQL version.")
public final class VersionCommand implements Callable<Integer> {
    private final PrintStream out;

    @Option(names = "--json", description = "print JSON instead of text")
    boolean json;

    public VersionCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() {
        BuildInfo build = BuildInfo.load();
        String java = Runtime.version() + " (" + System.getProperty("java.vendor") + ")";
        if (json) {
            Map<String, Object> fields = new LinkedHashMap<>();
            fields.put("version", build.version());
            fields.put("commit", build.commitLabel());
            fields.put("catalog_schema", build.catalogSchema());
            fields.put("embedded_postgres", build.postgresVersion());
            fields.put("java", java);
            Output.json(out, fields);
            return 0;
        }
        out.println("silo " + build.version());
        out.println("commit:            " + build.commitLabel());
        out.println("catalog schema:    " + build.catalogSchema());
        out.println("embedded postgres: " + build.postgresVersion());
        out.println("java:              " + java);
        return 0;
    }
}
