package dev.silo.cli;

import dev.silo.app.BuildInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "version", mixinStandardHelpOptions = true,
        description = {"Print the release version, git commit, catalog schema version and bundled PostgreSQL version.",
                "With --sbom, print the CycloneDX bill of materials of everything the jar ships (the same as target/bom.json)."})
public final class VersionCommand implements Callable<Integer> {
    private final PrintStream out;

    @Option(names = "--json", description = "print JSON instead of text")
    boolean json;

    @Option(names = "--sbom", description = "print the CycloneDX SBOM (JSON) of the libraries in this build, to check it against a CVE")
    boolean sbom;

    /** Where the build puts the SBOM in the jar (pom.xml: cyclonedx-maven-plugin, then a resource). */
    static final String SBOM_RESOURCE = "/META-INF/sbom/bom.json";

    public VersionCommand(PrintStream out) {
        this.out = out;
    }

    @Override
    public Integer call() throws java.io.IOException {
        if (sbom) {
            try (java.io.InputStream bom = VersionCommand.class.getResourceAsStream(SBOM_RESOURCE)) {
                if (bom == null) {
                    System.err.println("silo: this build carries no SBOM (built without the package phase?); "
                            + "run ./mvnw -DskipTests package, or read target/bom.json");
                    return 1;
                }
                out.write(bom.readAllBytes());
                out.println();
                out.flush();
                return 0;
            }
        }
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
