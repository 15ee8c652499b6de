package bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;

/** The report: a header of facts about the run, one Markdown table of rows, the errors; printed and kept in bench/out. */
final class Report {
    private Report() {}

    static String render(Options options, Map<String, String> header, List<Row> rows, List<String> errors) {
        StringBuilder out = new StringBuilder();
        out.append("# Silo benchmark").append(options.quick() ? " (quick smoke run: tiny N, figures are noisy)" : "")
                .append("\n\n");
        header.forEach((key, value) -> out.append("- **").append(key).append("**: ").append(value).append('\n'));
        out.append('\n');
        out.append("| # | row | Silo | raw limit (same run) | ratio | notes |\n");
        out.append("|---|---|---|---|---|---|\n");
        for (Row row : rows) {
            out.append("| ").append(row.id()).append(" | ").append(cell(row.name())).append(" | ")
                    .append(cell(row.silo())).append(" | ").append(cell(row.raw())).append(" | ")
                    .append(row.ratio()).append(" | ").append(cell(row.notes())).append(" |\n");
        }
        out.append("\nRatio: Silo ÷ raw for throughputs, raw p50 ÷ Silo p50 for provisioning; 1.00 = at the raw limit; ")
                .append("rows 9-11 say theirs (p50 ÷ reference p50, RSS ÷ goal, time ÷ goal). ")
                .append("CPU notes are cores used during the measured window (client = this harness's JVM, ")
                .append("tool = pgbench, silo = Silo's JVM, pg = the embedded PostgreSQL, other = everything else on the machine: "
                + "when it is high, the machine was busy and the figures are low).\n");
        if (!errors.isEmpty()) {
            out.append("\n## Errors\n\n");
            for (String error : errors) {
                out.append("- ").append(error.replace("\n", " ")).append('\n');
            }
        }
        return out.toString();
    }

    private static String cell(String text) {
        return text == null ? "" : text.replace("|", "\\|").replace("\n", " ");
    }

    static void write(Options options, String report) throws IOException {
        Files.createDirectories(options.outDir());
        String stamp = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(Instant.now());
        String suffix = options.quick() ? "-quick" : "";
        Path file = options.outDir().resolve("bench-" + stamp + suffix + ".md");
        Files.writeString(file, report);
        Files.writeString(options.outDir().resolve("latest" + suffix + ".md"), report);
        System.err.println("bench: report written to " + file);
    }
}
