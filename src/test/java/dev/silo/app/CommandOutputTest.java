package dev.silo.app;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.audit.Actor;
import dev.silo.cli.AuditCommand;
import dev.silo.cli.OperatorsCommand;
import dev.silo.cli.PlacementsCommand;
import dev.silo.cli.TenantsCommand;
import dev.silo.cli.UsersCommand;
import dev.silo.cli.VersionCommand;
import dev.silo.platform.db.CatalogMigrations;
import dev.silo.platform.http.Json;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Issue 10.12 and 10.14: --json on every command that prints, paged tenant listings, and messages for their audience. */
class CommandOutputTest {
    private static Silo silo;
    private static TestingHttp operator;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        operator = new TestingHttp(silo.baseUri()).withBearer(TestingSilo.operatorKey(silo));
    }

    private record Run(int code, String out, String err) {
        JsonNode json() {
            try {
                return Json.MAPPER.readTree(out);
            } catch (IOException e) {
                throw new UncheckedIOException("not JSON: " + out + err, e);
            }
        }
    }

    private static Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        List<String> full = new ArrayList<>(List.of(args));
        if (!args[0].equals("version")) {
            full.add("--data-dir");
            full.add(silo.config().dataDir().toString());
        }
        int code = Main.run(full.toArray(String[]::new), Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static String slug(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    @Test
    void everyCommandThatPrintsAcceptsJson() {
        Run version = cli("version", "--json");
        assertThat(version.code()).as(version.err()).isZero();
        assertThat(version.json().get("catalog_schema").asInt()).isEqualTo(CatalogMigrations.LATEST_VERSION);
        assertThat(version.json().get("embedded_postgres").asText()).startsWith("17.");

        String slug = slug("json");
        Run created = cli("tenants", "create", slug, "--json");
        assertThat(created.json().get("slug").asText()).isEqualTo(slug);
        assertThat(cli("tenants", "show", slug, "--json").json().get("status").asText()).isEqualTo("active");
        assertThat(cli("tenants", "list", "--json").json().toString()).contains("\"slug\":\"" + slug + "\"");
        Run rotated = cli("tenants", "rotate-secret", slug, "--json");
        assertThat(rotated.json().get("signing_key_id").asText()).isNotBlank();
        assertThat(rotated.json().get("previous_key").asText()).startsWith("verifies for");
        assertThat(cli("tenants", "suspend", slug, "--json").json().get("status").asText()).isEqualTo("suspended");
        assertThat(cli("tenants", "repair", "--json").json().isArray()).isTrue();
        assertThat(cli("tenants", "resume", slug, "--json").json().get("status").asText()).isEqualTo("active");

        Run user = cli("users", "create", "--tenant", slug, "--email", "ann@" + slug + ".example", "--generate-password", "--json");
        assertThat(user.code()).as(user.err()).isZero();
        assertThat(user.json().get("role").asText()).isEqualTo("admin");

        String name = "json-" + UUID.randomUUID().toString().substring(0, 6);
        assertThat(cli("operators", "create", name, "--json").json().get("key").asText()).startsWith("silo_op_");
        assertThat(cli("operators", "list", "--json").json().toString()).contains(name);
        Run revoked = cli("operators", "revoke", name, "--json");
        assertThat(revoked.json().get("revoked").asBoolean()).isTrue();

        assertThat(cli("placements", "list", "--json").json().isArray()).isTrue();
        assertThat(cli("audit", "list", "--limit", "5", "--json").json().isArray()).isTrue();
        Run verify = cli("audit", "verify", "--json");
        assertThat(verify.code()).as(verify.out()).isZero();
        assertThat(verify.json().get("intact").asBoolean()).isTrue();
        assertThat(cli("audit", "verify", "--tenant", slug, "--json").json().get("log").asText()).startsWith("tenant:");
    }

    @Test
    void tenantListingPagesWithACursorAndReturnsEveryTenantOnce() {
        for (int i = 0; i < 3; i++) {
            silo.tenants().create(slug("page"), null, Optional.empty(), Actor.SYSTEM);
        }
        int total = operator.get("/admin/tenants?limit=500").json().get("tenants").size();
        assertThat(total).isGreaterThanOrEqualTo(3);
        Set<String> seen = new HashSet<>();
        String cursor = null;
        int pages = 0;
        do {
            var page = operator.get("/admin/tenants?limit=2" + (cursor == null ? "" : "&cursor=" + cursor)).json();
            assertThat(page.get("tenants").size()).isBetween(1, 2);
            page.get("tenants").forEach(tenant -> assertThat(seen.add(tenant.get("slug").asText())).isTrue());
            cursor = page.get("next_cursor").isNull() ? null : page.get("next_cursor").asText();
            pages++;
        } while (cursor != null && pages < 1000);
        assertThat(seen).hasSize(total);
        assertThat(operator.get("/admin/tenants?include_purged=true&limit=1").json().get("next_cursor").isNull()).isFalse();
    }

    @Test
    void tenantListingRefusesUnknownParametersAndBadValuesNamingThem() {
        for (String query : List.of("?status=active", "?limit=0", "?limit=abc", "?include_purged=yes", "?cursor=garbage", "?offset=2")) {
            var response = operator.get("/admin/tenants" + query);
            assertThat(response.status()).as(query).isEqualTo(400);
            assertThat(response.contentType()).isEqualTo("application/problem+json");
            String name = query.substring(1, query.indexOf('='));
            if (!name.equals("cursor")) {
                assertThat(response.json().get("detail").asText()).as(query).contains("'" + name + "'");
            }
        }
    }

    @Test
    void apiProblemsNameQueryParametersNotCommandLineFlags() {
        String slug = slug("too-early");
        silo.tenants().create(slug, null, Optional.empty(), Actor.SYSTEM);
        assertThat(operator.post("/admin/tenants/" + slug + "/deprovision", "").status()).isEqualTo(200);
        var early = operator.delete("/admin/tenants/" + slug + "?confirm=" + slug);
        assertThat(early.status()).isEqualTo(409);
        assertThat(early.json().get("detail").asText()).contains("now=true").doesNotContain("--");
        Run cli = cli("tenants", "purge", slug, "--confirm", slug);
        assertThat(cli.code()).isEqualTo(1);
        assertThat(cli.err()).contains("--now").doesNotContain("now=true");
    }

    @Test
    void everyHelpTextStartsWithAWholeSentence() {
        List<CommandLine> commands = List.of(new CommandLine(new TenantsCommand(Map.of(), System.out)),
                new CommandLine(new UsersCommand(Map.of(), System.out)), new CommandLine(new OperatorsCommand(Map.of(), System.out)),
                new CommandLine(new PlacementsCommand(Map.of(), System.out)), new CommandLine(new AuditCommand(Map.of(), System.out)),
                new CommandLine(new dev.silo.cli.BackupsCommand(Map.of(), System.out)),
                new CommandLine(new VersionCommand(System.out)));
        List<CommandLine> all = new ArrayList<>(commands);
        commands.forEach(command -> all.addAll(command.getSubcommands().values()));
        for (CommandLine command : all) {
            // The command list of `silo X --help` shows only the first line of each description.
            String[] description = command.getCommandSpec().usageMessage().description();
            assertThat(description).as(command.getCommandName()).isNotEmpty();
            assertThat(description[0]).as(command.getCommandName()).endsWith(".");
        }
    }
}
