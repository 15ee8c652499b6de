package dev.silo.user;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Main;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.audit.TenantAudit;
import dev.silo.platform.db.Sql;
import dev.silo.platform.problem.Conflict;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A tenant never loses its last admin (issue 10.4), and operators create only a tenant's first admin, audited in
 * both logs (issue 10.2, claim C19).
 */
class TenantAdminsTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static Silo silo;
    private static TestingHttp http;
    private static TestingHttp operator;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        http = new TestingHttp(silo.baseUri());
        operator = http.withBearer(TestingSilo.operatorKey(silo));
    }

    private static Tenant newTenant(String prefix) {
        return silo.tenants().create(prefix + "-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(), Actor.SYSTEM);
    }

    private static TestingHttp loggedIn(Tenant tenant, String email) {
        var login = http.post("/t/" + tenant.slug() + "/auth/login", "{\"email\":\"" + email + "\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        return http.withBearer(login.json().get("access_token").asText());
    }

    private static TestingHttp.Response patch(TestingHttp as, String path, String json) {
        return as.send(as.request(path).header("Content-Type", "application/json")
                .method("PATCH", java.net.http.HttpRequest.BodyPublishers.ofString(json)).build());
    }

    private static void assertLastAdmin(TestingHttp.Response response) {
        assertThat(response.status()).as(response.body()).isEqualTo(409);
        assertThat(response.contentType()).isEqualTo("application/problem+json");
        assertThat(response.json().get("type").asText()).endsWith("/last-admin");
    }

    private static long activeAdmins(Tenant tenant) {
        return silo.core().tenantDatabases().withConnection(tenant, connection -> {
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled");
                 ResultSet rs = select.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        });
    }

    private record AuditRow(String actor, String action, String target, String detail) {}

    private static List<AuditRow> platformAudit(Tenant tenant) {
        return Sql.withConnection(silo.catalog(), connection -> {
            List<AuditRow> rows = new ArrayList<>();
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT actor, action, target, detail FROM platform_audit WHERE target = ? ORDER BY seq")) {
                select.setString(1, "tenant:" + tenant.slug());
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        rows.add(new AuditRow(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)));
                    }
                }
            }
            return rows;
        });
    }

    private static List<AuditRow> tenantAudit(Tenant tenant, String type) {
        return silo.core().tenantDatabases().withConnection(tenant, connection -> {
            List<AuditRow> rows = new ArrayList<>();
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT actor, type, subject, detail FROM audit_log WHERE type = ? ORDER BY seq")) {
                select.setString(1, type);
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        rows.add(new AuditRow(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4)));
                    }
                }
            }
            return rows;
        });
    }

    private record Run(int code, String out, String err) {}

    private static Run cli(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        String[] full = new String[args.length + 2];
        System.arraycopy(args, 0, full, 0, args.length);
        full[args.length] = "--data-dir";
        full[args.length + 1] = silo.config().dataDir().toString();
        int code = Main.run(full, Map.of(), new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Runs both at the same moment (a barrier) and returns their outcomes: a result or the problem thrown. */
    private static List<Object> together(Callable<?> first, Callable<?> second) throws Exception {
        CyclicBarrier barrier = new CyclicBarrier(2);
        try (ExecutorService threads = Executors.newFixedThreadPool(2)) {
            List<Future<Object>> futures = new ArrayList<>();
            for (Callable<?> work : List.of(first, second)) {
                futures.add(threads.submit(() -> {
                    barrier.await(30, TimeUnit.SECONDS);
                    try {
                        return work.call();
                    } catch (Conflict e) {
                        return e;
                    }
                }));
            }
            List<Object> outcomes = new ArrayList<>();
            for (Future<Object> future : futures) {
                try {
                    outcomes.add(future.get(60, TimeUnit.SECONDS));
                } catch (ExecutionException e) {
                    throw new AssertionError(e.getCause());
                }
            }
            return outcomes;
        }
    }

    @Test
    void theLastAdminCannotBeDisabledDemotedOrDeleted() {
        Tenant tenant = newTenant("lastadmin");
        var created = operator.post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"ann@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        String ann = created.json().get("id").asText();
        TestingHttp asAnn = loggedIn(tenant, "ann@example.com");
        String users = "/t/" + tenant.slug() + "/users/";

        assertLastAdmin(patch(asAnn, users + ann, "{\"disabled\":true}"));
        assertLastAdmin(patch(asAnn, users + ann, "{\"role\":\"member\"}"));
        assertLastAdmin(asAnn.delete(users + ann));

        // A second admin, disabled, does not count: Ann is still the last active admin.
        var bob = asAnn.post("/t/" + tenant.slug() + "/users",
                "{\"email\":\"bob@example.com\",\"role\":\"admin\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(bob.status()).as(bob.body()).isEqualTo(201);
        String bobId = bob.json().get("id").asText();
        assertThat(patch(asAnn, users + bobId, "{\"disabled\":true}").status()).isEqualTo(200);
        assertLastAdmin(patch(asAnn, users + ann, "{\"role\":\"member\"}"));
        assertLastAdmin(asAnn.delete(users + ann));

        // With Bob enabled again Ann may step down, and then Bob is the last one.
        assertThat(patch(asAnn, users + bobId, "{\"disabled\":false}").status()).isEqualTo(200);
        assertThat(patch(asAnn, users + ann, "{\"role\":\"member\"}").status()).isEqualTo(200);
        TestingHttp asBob = loggedIn(tenant, "bob@example.com");
        assertLastAdmin(asBob.delete(users + bobId));
        assertLastAdmin(patch(asBob, users + bobId, "{\"disabled\":true}"));
        assertThat(activeAdmins(tenant)).isEqualTo(1);
        // a member can still be disabled and deleted freely
        assertThat(patch(asBob, users + ann, "{\"disabled\":true}").status()).isEqualTo(200);
        assertThat(asBob.delete(users + ann).status()).isEqualTo(204);
    }

    @Test
    void twoAdminsDemotingOrDeletingEachOtherAtOnceCannotBothSucceed() throws Exception {
        UserService service = silo.core().users();
        for (int round = 0; round < 6; round++) {
            Tenant tenant = newTenant("race");
            User ann = service.create(tenant, "ann@example.com", "admin", PASSWORD, TenantAudit.Context.SYSTEM);
            User bob = service.create(tenant, "bob@example.com", "admin", PASSWORD, TenantAudit.Context.SYSTEM);
            List<Object> outcomes = switch (round % 3) {
                case 0 -> together(
                        () -> service.update(tenant, bob.id(), Optional.of("member"), Optional.empty(), TenantAudit.Context.SYSTEM),
                        () -> service.update(tenant, ann.id(), Optional.of("member"), Optional.empty(), TenantAudit.Context.SYSTEM));
                case 1 -> together(
                        () -> service.update(tenant, bob.id(), Optional.empty(), Optional.of(true), TenantAudit.Context.SYSTEM),
                        () -> service.update(tenant, ann.id(), Optional.empty(), Optional.of(true), TenantAudit.Context.SYSTEM));
                default -> together(
                        () -> {
                            service.delete(tenant, bob.id(), TenantAudit.Context.SYSTEM);
                            return "deleted";
                        },
                        () -> {
                            service.delete(tenant, ann.id(), TenantAudit.Context.SYSTEM);
                            return "deleted";
                        });
            };
            assertThat(outcomes).as("round " + round).filteredOn(o -> o instanceof Conflict).hasSize(1)
                    .allSatisfy(o -> assertThat(((Conflict) o).type()).isEqualTo("last-admin"));
            assertThat(activeAdmins(tenant)).as("round " + round).isEqualTo(1);
        }
    }

    @Test
    void theOperatorRouteCreatesOnlyTheFirstAdminAndBothAuditsRecordIt() {
        Tenant tenant = newTenant("firstadmin");
        var first = operator.post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"ann@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(first.status()).as(first.body()).isEqualTo(201);
        String annId = first.json().get("id").asText();

        // An operator with a password of their choosing cannot become the admin of a tenant that has one.
        var takeover = operator.post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"mallory@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(takeover.status()).as(takeover.body()).isEqualTo(409);
        assertThat(takeover.contentType()).isEqualTo("application/problem+json");
        assertThat(takeover.json().get("type").asText()).endsWith("/tenant-has-admins");
        var mallory = http.post("/t/" + tenant.slug() + "/auth/login",
                "{\"email\":\"mallory@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(mallory.status()).isEqualTo(401);

        List<AuditRow> platform = platformAudit(tenant).stream().filter(row -> row.action().startsWith("tenant.user.")).toList();
        assertThat(platform).hasSize(1);
        assertThat(platform.getFirst().actor()).isEqualTo("operator:bootstrap");
        assertThat(platform.getFirst().action()).isEqualTo("tenant.user.create");
        assertThat(platform.getFirst().detail()).contains(annId).contains("\"role\":\"admin\"");
        List<AuditRow> tenantSide = tenantAudit(tenant, "user.create");
        assertThat(tenantSide).hasSize(1);
        assertThat(tenantSide.getFirst().actor()).isEqualTo("operator:bootstrap");
        assertThat(tenantSide.getFirst().target()).isEqualTo(annId);
        assertThat(tenantSide.getFirst().detail()).contains("\"by_operator\":true");
    }

    @Test
    void twoConcurrentFirstAdminCreationsOnlyOneWins() throws Exception {
        UserService service = silo.core().users();
        Actor actor = Actor.operator("bootstrap", null, null);
        for (int round = 0; round < 4; round++) {
            Tenant tenant = newTenant("firstrace");
            List<Object> outcomes = together(
                    () -> service.createByOperator(tenant, "ann@example.com", "admin", PASSWORD, actor, false),
                    () -> service.createByOperator(tenant, "bob@example.com", "admin", PASSWORD, actor, false));
            assertThat(outcomes).as("round " + round).filteredOn(o -> o instanceof User).hasSize(1);
            assertThat(outcomes).as("round " + round).filteredOn(o -> o instanceof Conflict).hasSize(1)
                    .allSatisfy(o -> assertThat(((Conflict) o).type()).isEqualTo("tenant-has-admins"));
            assertThat(activeAdmins(tenant)).isEqualTo(1);
            // the refused one left no platform entry
            assertThat(platformAudit(tenant).stream().filter(row -> row.action().startsWith("tenant.user."))).hasSize(1);
        }
    }

    @Test
    void theCommandRefusesATenantWithAdminsUnlessForcedAndAForcedCreationIsAuditedAsSuch() {
        Tenant tenant = newTenant("clifirst");
        Run first = cli("users", "create", "--tenant", tenant.slug(), "--email", "ann@example.com", "--generate-password");
        assertThat(first.code()).as(first.err()).isZero();
        assertThat(first.out()).contains("created in tenant " + tenant.slug());

        Run refused = cli("users", "create", "--tenant", tenant.slug(), "--email", "eve@example.com", "--generate-password");
        assertThat(refused.code()).isEqualTo(1);
        assertThat(refused.err()).contains("already has an admin");
        assertThat(refused.out()).doesNotContain("password");

        Run forced = cli("users", "create", "--tenant", tenant.slug(), "--email", "eve@example.com", "--generate-password", "--force");
        assertThat(forced.code()).as(forced.err()).isZero();
        assertThat(forced.out()).contains("--force").contains("tenant.user.create.forced");

        List<AuditRow> platform = platformAudit(tenant).stream().filter(row -> row.action().startsWith("tenant.user.")).toList();
        assertThat(platform).extracting(AuditRow::action).containsExactly("tenant.user.create", "tenant.user.create.forced");
        assertThat(platform).allSatisfy(row -> assertThat(row.actor()).startsWith("cli:"));
        assertThat(platform.get(1).detail()).contains("\"forced\":true");
        List<AuditRow> tenantSide = tenantAudit(tenant, "user.create");
        assertThat(tenantSide).hasSize(2);
        assertThat(tenantSide.get(1).actor()).startsWith("cli:");
        assertThat(tenantSide.get(1).detail()).contains("\"forced\":true");
        String annPassword = first.out().substring(first.out().indexOf("shown this once: ") + "shown this once: ".length()).strip();
        var login = http.post("/t/" + tenant.slug() + "/auth/login",
                "{\"email\":\"ann@example.com\",\"password\":\"" + annPassword + "\"}");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        JsonNode users = http.withBearer(login.json().get("access_token").asText()).get("/t/" + tenant.slug() + "/users").json();
        assertThat(users.get("users")).hasSize(2);
    }
}
