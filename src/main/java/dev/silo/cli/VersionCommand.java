package dev.silo.cli;

import dev.silo.app.BuildInfo;
import picocli.CommandLine.Command;

import java.io.PrintStream;
import java.util.concurrent.Callable;

@Command(name = "version", mixinStandardHelpOptions = true,
        description = "Print the release version, git commit, catalog schema version and bundled PostgreSQL version.")
public final class VersionCommand implements Callable<Integer> {
    private final PrintStream out;

    public VersionCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() {
        BuildInfo build = BuildInfo.load();
        out.println("silo " + build.version());
        out.println("commit:            " + build.commitLabel());
        out.println("catalog schema:    " + build.catalogSchema());
        out.println("embedded postgres: " + build.postgresVersion());
        out.println("java:              " + Runtime.version() + " (" + System.getProperty("java.vendor") + ")");
        return 0;
    }
}
