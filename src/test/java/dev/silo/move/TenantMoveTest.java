package dev.silo.move;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.platform.jobs.Jobs;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingClock;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Moving tenants between placements (issue 18.2): from the embedded PostgreSQL to the machine's own
 * (127.0.0.1:5432, TLS, trust auth; required where {@code SILO_TEST_REQUIRE_POSTGRES=true}, skipped elsewhere) under a
 * read/write load, a drain back, and the problems of bad requests. A node of its own, so that no other test's tenant
 * lands on the machine's server.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TenantMoveTest {
    private static final String MACHINE = "machine";
    private static final String ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=require";
    private static final String PASSWORD = "correct horse battery staple";
    private static final TestingClock CLOCK = new TestingClock();

    private static Silo silo;
    private static TestingHttp http;
    private static TestingHttp operator;
    private static boolean machine;
    private static Tenant moving;

    @BeforeAll
    static void start() {
        machine = machinePostgresWithTls();
        if ("true".equals(System.getenv("SILO_TEST_REQUIRE_POSTGRES"))) {
            assertThat(machine).as("the machine's PostgreSQL must answer over TLS on 127.0.0.1:5432 (.ci/run sets this up)").isTrue();
        }
        silo = TestingSilo.startNew(TestingSilo.newDataDir("move"), Map.of(), CLOCK);
        http = new TestingHttp(silo.baseUri());
        operator = http.withBearer(TestingSilo.operatorKey(silo));
        if (machine) {
            silo.core().placements().add(MACHINE, ADMIN_URL, null, Actor.SYSTEM);
        }
    }

    @AfterAll
    static void stop() {
        if (silo != null && machine) {
            // The drained placement keeps the moved tenants' source copies for the retention window: not on this machine.
            CLOCK.advance(silo.tenants().settings().retention().plusHours(1));
            try (Jobs jobs = new Jobs(silo.core().catalog())) {
                Silo.tenantMoves(silo.core(), jobs).maintain(Actor.SYSTEM);
            } finally {
                CLOCK.reset();
            }
        }
        if (silo != null) {
            silo.close();
        }
        silo = null;
        http = null;
        operator = null;
        moving = null;
    }

    @Test
    @Order(1)
    void aMoveUnderLoadLosesNoAcknowledgedWriteAndServesReadsThroughout() throws Exception {
        Assumptions.assumeTrue(machine, "no PostgreSQL with TLS on 127.0.0.1:5432");
        moving = tenant("mover");
        Tenant other = tenant("bystander");
        TestingHttp admin = admin(moving);
        TestingHttp otherAdmin = admin(other);
        String notes = collection(admin, moving);
        String otherNotes = collection(otherAdmin, other);
        seed(moving, notes, 10_000);
        String known = admin.post("/t/" + moving.slug() + "/collections/" + notes + "/records", "{\"n\": -1}").json().get("id").asText();
        interruptedMoveLeavesTheTenantOnItsSource(admin, notes);

        Set<String> acknowledged = ConcurrentHashMap.newKeySet();
        List<String> unexpected = new CopyOnWriteArrayList<>();
        AtomicInteger refusedWhileMoving = new AtomicInteger();
        AtomicInteger endedAtSwitch = new AtomicInteger();
        AtomicInteger reads = new AtomicInteger();
        AtomicInteger otherWrites = new AtomicInteger();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger afterMove = new AtomicInteger();
        AtomicBoolean moved = new AtomicBoolean();
        Thread writer = Thread.ofVirtual().start(() -> {
            for (int n = 0; !stop.get(); n++) {
                var response = admin.post("/t/" + moving.slug() + "/collections/" + notes + "/records", "{\"n\": " + n + "}");
                if (response.status() == 201) {
                    acknowledged.add(response.json().get("id").asText());
                    if (moved.get()) {
                        afterMove.incrementAndGet();
                    }
                } else if (response.status() == 503 && response.body().contains("tenant-moving")
                        && response.header("Retry-After") != null) {
                    refusedWhileMoving.incrementAndGet();
                } else if (response.status() == 503 && response.body().contains("database-unavailable")) {
                    // A write that passed the check just before the freeze and reached the source only under its lock
                    // is ended at the switch: refused (not acknowledged), so it cannot be lost.
                    endedAtSwitch.incrementAndGet();
                } else {
                    unexpected.add("write " + response.status() + " " + response.body());
                }
            }
        });
        Thread reader = Thread.ofVirtual().start(() -> {
            while (!stop.get()) {
                var read = admin.get("/t/" + moving.slug() + "/collections/" + notes + "/records/" + known);
                if (read.status() == 200) {
                    reads.incrementAndGet();
                } else {
                    unexpected.add("read " + read.status() + " " + read.body());
                }
                var write = otherAdmin.post("/t/" + other.slug() + "/collections/" + otherNotes + "/records", "{\"other\": true}");
                if (write.status() == 201) {
                    otherWrites.incrementAndGet();
                } else {
                    unexpected.add("other tenant " + write.status() + " " + write.body());
                }
            }
        });
        try {
            await().atMost(Duration.ofSeconds(30)).until(() -> acknowledged.size() >= 50 && reads.get() >= 50);
            var started = operator.post("/admin/tenants/" + moving.slug() + "/move", "{\"to\": \"" + MACHINE + "\"}");
            assertThat(started.status()).as(started.body()).isEqualTo(202);
            assertThat(started.header("Location")).isEqualTo("/admin/tenants/" + moving.slug() + "/move");
            String job = started.json().get("job").asText();
            var again = operator.post("/admin/tenants/" + moving.slug() + "/move", "{\"to\": \"" + MACHINE + "\"}");
            assertThat(again.status()).as(again.body()).isEqualTo(409);
            await().atMost(Duration.ofMinutes(2)).until(() ->
                    !operator.get("/admin/jobs/" + job).json().get("state").asText().equals("running"));
            moved.set(true);
            await().atMost(Duration.ofSeconds(30)).until(() -> afterMove.get() >= 50);
        } finally {
            stop.set(true);
            writer.join();
            reader.join();
        }

        JsonNode status = operator.get("/admin/tenants/" + moving.slug() + "/move").json();
        JsonNode result = status.get("job").get("result");
        assertThat(status.get("job").get("state").asText()).as(status.toString()).isEqualTo("succeeded");
        assertThat(status.get("move_state").asText()).isEqualTo("switched");
        assertThat(status.get("from").asText()).isEqualTo("embedded");
        assertThat(status.get("to").asText()).isEqualTo(MACHINE);
        assertThat(result.get("rows").get("records").asLong()).isGreaterThanOrEqualTo(10_001);
        System.out.println("tenant move: " + result.get("move_ms") + " ms, longest write pause " + result.get("write_pause_ms")
                + " ms, " + result.get("rounds") + " rounds, " + result.get("rows_checked_in_freeze") + " rows checked in the freeze; " + acknowledged.size() + " writes acknowledged, "
                + refusedWhileMoving.get() + " refused while moving, " + endedAtSwitch.get() + " ended at the switch, " + reads.get() + " reads");
        assertThat(endedAtSwitch.get()).as("only writes caught in flight by the switch").isLessThanOrEqualTo(2);
        assertThat(unexpected).as("only writes during the freeze may be refused, with 503 tenant-moving").isEmpty();

        // Every acknowledged write is in the tenant's database, which is now on the machine's server.
        Tenant now = silo.tenants().get(moving.slug());
        assertThat(silo.tenants().view(now).get("placement")).isEqualTo(MACHINE);
        long found = silo.core().tenantDatabases().withConnection(now, connection -> {
            try (PreparedStatement select = connection.prepareStatement("SELECT count(*) FROM records WHERE id = ANY (?::uuid[]) "
                    + "AND inet_server_port() = 5432")) {
                select.setArray(1, connection.createArrayOf("text", acknowledged.toArray()));
                try (ResultSet rs = select.executeQuery()) {
                    rs.next();
                    return rs.getLong(1);
                }
            }
        });
        assertThat(found).isEqualTo(acknowledged.size());
        assertThat(admin.get("/t/" + moving.slug() + "/collections/" + notes + "/records/" + known).status()).isEqualTo(200);
        // The move's log and triggers stayed on the source: the copy holds only the tenant's own tables.
        assertThat(machineQuery(now.databaseName(), "SELECT count(*) FROM pg_trigger WHERE tgname = 'silo_move_capture'")).isZero();
        assertThat(machineQuery(now.databaseName(), "SELECT count(*) FROM pg_class WHERE relname = 'silo_move_log'")).isZero();

        // The other tenant never stopped and did not move.
        assertThat(otherWrites.get()).isPositive();
        assertThat(silo.tenants().view(silo.tenants().get(other.slug())).get("placement")).isEqualTo("embedded");

        // Audited; the source copy is kept, unable to log in, until the retention window ends, then dropped.
        assertThat(auditActions(moving.slug())).contains("tenant.move.start", "tenant.move");
        assertThat(embeddedRole(moving.roleName())).isEqualTo(Optional.of(false));
        assertThat(embeddedDatabaseExists(moving.databaseName())).isTrue();
        try (Jobs jobs = new Jobs(silo.core().catalog())) {
            TenantMoves moves = Silo.tenantMoves(silo.core(), jobs);
            assertThat(moves.maintain(Actor.SYSTEM)).isZero();
            CLOCK.advance(silo.tenants().settings().retention().plusHours(1));
            try {
                assertThat(moves.maintain(Actor.SYSTEM)).isEqualTo(1);
            } finally {
                CLOCK.reset();
            }
        }
        assertThat(embeddedDatabaseExists(moving.databaseName())).isFalse();
        assertThat(embeddedRole(moving.roleName())).isEmpty();
        assertThat(operator.get("/admin/tenants/" + moving.slug() + "/move").json().get("move_state").asText()).isEqualTo("dropped");
        assertThat(auditActions(moving.slug())).contains("tenant.move.drop-source");
    }

    /**
     * A move whose node died while it froze the tenant: the freeze holds only while its job beats, then the tenant
     * writes again on its source, and the upkeep removes the half-built target and the change log, so the move can be
     * run again (the caller does, under load).
     */
    private static void interruptedMoveLeavesTheTenantOnItsSource(TestingHttp admin, String notes) throws SQLException {
        String write = "/t/" + moving.slug() + "/collections/" + notes + "/records";
        UUID target = silo.core().placements().find(MACHINE).id();
        UUID job;
        try (Jobs dying = new Jobs(silo.core().catalog())) {
            TenantMoves moves = Silo.tenantMoves(silo.core(), dying);
            job = moves.prepare(moving.slug(), MACHINE, Actor.SYSTEM).jobId();
            silo.tenants().buildCopy(moving, target);
            var url = silo.core().placements().tenantUrl(moving);
            try (Connection source = DriverManager.getConnection(url.jdbcUrl(), url.properties())) {
                DatabaseCopy.installChangeLog(source, DatabaseCopy.tables(source));
            }
            catalog("UPDATE tenant_moves SET state = 'frozen' WHERE job_id = ?", job);
            // What the move's freeze announces to every node: the tenant's cached entry goes.
            silo.core().events().local(dev.silo.tenant.TenantService.settingsEvent(moving));
            var frozen = admin.post(write, "{\"frozen\": true}");
            assertProblem(frozen, 503, "tenant-moving");
            assertThat(frozen.header("Retry-After")).isNotNull();
            assertThat(admin.get("/t/" + moving.slug() + "/health").status()).isEqualTo(200);
        } // its heartbeat stops here, as when the process is killed
        catalog("UPDATE jobs SET heartbeat_at = now() - interval '5 minutes' WHERE id = ?", job);
        assertThat(admin.post(write, "{\"thawed\": true}").status()).isEqualTo(201);
        try (Jobs jobs = new Jobs(silo.core().catalog())) {
            assertThat(Silo.tenantMoves(silo.core(), jobs).maintain(Actor.SYSTEM)).isEqualTo(1);
        }
        assertThat(silo.tenants().view(silo.tenants().get(moving.slug())).get("placement")).isEqualTo("embedded");
        assertThat(machineQuery("postgres", "SELECT count(*) FROM pg_database WHERE datname = '" + moving.databaseName() + "'")).isZero();
        long triggers = silo.core().tenantDatabases().withConnection(moving, connection -> {
            try (var statement = connection.createStatement();
                 var rs = statement.executeQuery("SELECT count(*) FROM pg_trigger WHERE tgname = 'silo_move_capture'")) {
                rs.next();
                return rs.getLong(1);
            }
        });
        assertThat(triggers).isZero();
        assertThat(operator.get("/admin/tenants/" + moving.slug() + "/move").json().get("move_state").asText()).isEqualTo("failed");
    }

    private static void catalog(String sql, UUID id) {
        dev.silo.platform.db.Sql.withConnection(silo.core().catalog(), connection -> {
            try (PreparedStatement update = connection.prepareStatement(sql)) {
                update.setObject(1, id);
                return update.executeUpdate();
            }
        });
    }

    @Test
    @Order(2)
    void aDrainMovesEveryTenantOffThePlacementAndClosesIt() throws Exception {
        Assumptions.assumeTrue(machine && moving != null, "needs the machine's PostgreSQL and the moved tenant");
        Tenant second = silo.tenants().create(slug("second"), null, Optional.of(MACHINE), Actor.SYSTEM);
        TestingHttp admin = admin(second);
        String notes = collection(admin, second);
        String id = admin.post("/t/" + second.slug() + "/collections/" + notes + "/records", "{\"kept\": true}").json().get("id").asText();

        var started = operator.post("/admin/placements/" + MACHINE + "/drain", "");
        assertThat(started.status()).as(started.body()).isEqualTo(202);
        String job = started.json().get("job").asText();
        await().atMost(Duration.ofMinutes(2)).until(() ->
                !operator.get("/admin/jobs/" + job).json().get("state").asText().equals("running"));
        JsonNode done = operator.get("/admin/jobs/" + job).json();
        assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("succeeded");
        assertThat(List.of(done.get("result").get("moved").get(0).asText(), done.get("result").get("moved").get(1).asText()))
                .containsExactlyInAnyOrder(moving.slug(), second.slug());
        for (Tenant tenant : List.of(moving, second)) {
            assertThat(silo.tenants().view(silo.tenants().get(tenant.slug())).get("placement")).isEqualTo("embedded");
        }
        assertThat(admin.get("/t/" + second.slug() + "/collections/" + notes + "/records/" + id).status()).isEqualTo(200);
        assertThat(silo.core().placements().find(MACHINE).accepting()).isFalse();
        assertThat(silo.core().placements().find(MACHINE).liveTenants()).isZero();

        // A drained placement takes no new tenant and no move.
        assertProblem(operator.post("/admin/tenants/" + second.slug() + "/move", "{\"to\": \"" + MACHINE + "\"}"), 409,
                "placement-draining");
        var create = operator.post("/admin/tenants", "{\"slug\": \"" + slug("late") + "\", \"placement\": \"" + MACHINE + "\"}");
        assertProblem(create, 409, "placement-draining");
    }

    @Test
    @Order(3)
    void badMovesAreClearProblems() {
        Tenant tenant = tenant("problems");
        assertProblem(operator.post("/admin/tenants/no-such-tenant/move", "{\"to\": \"embedded\"}"), 404, "tenant-not-found");
        assertProblem(operator.post("/admin/tenants/" + tenant.slug() + "/move", "{\"to\": \"nowhere\"}"), 404, "placement-not-found");
        assertProblem(operator.post("/admin/tenants/" + tenant.slug() + "/move", "{}"), 400, "invalid-move");
        assertProblem(operator.post("/admin/tenants/" + tenant.slug() + "/move", "{\"to\": \"embedded\"}"), 409, "already-on-placement");
        assertProblem(operator.get("/admin/tenants/" + tenant.slug() + "/move"), 404, "move-not-found");
        assertProblem(operator.post("/admin/placements/nowhere/drain", ""), 404, "placement-not-found");
        assertProblem(http.post("/admin/tenants/" + tenant.slug() + "/move", "{\"to\": \"embedded\"}"), 401, "unauthorized");
    }

    @Test
    @Order(4)
    void sqlInjectionInTheSlugOrPlacementNameIsHarmless() {
        Tenant tenant = tenant("inject");
        String slug = URLEncoder.encode("x'; DROP TABLE tenants; --", StandardCharsets.UTF_8).replace("+", "%20");
        var bySlug = operator.post("/admin/tenants/" + slug + "/move", "{\"to\": \"embedded\"}");
        assertThat(bySlug.status()).as(bySlug.body()).isIn(400, 404);
        assertProblem(operator.post("/admin/tenants/" + tenant.slug() + "/move",
                "{\"to\": \"embedded'; DROP TABLE placements; --\"}"), 404, "placement-not-found");
        var drain = operator.post("/admin/placements/" + URLEncoder.encode("e' OR '1'='1", StandardCharsets.UTF_8)
                .replace("+", "%20") + "/drain", "");
        assertThat(drain.status()).as(drain.body()).isEqualTo(404);
        assertThat(silo.core().placements().list()).extracting(p -> p.name()).contains("embedded");
        assertThat(silo.core().placements().find("embedded").accepting()).isTrue();
        assertThat(silo.tenants().get(tenant.slug()).status().wire()).isEqualTo("active");
        assertThat(http.get("/t/" + tenant.slug() + "/health").status()).isEqualTo(200);
    }

    /**
     * Two users swap their emails (a unique column) in one transaction, through a temporary value, once after the
     * snapshot copy and once just before the freeze. Replayed one row at a time, each swap meets the other row's old
     * value on the target (a unique violation); the move completes, and the target holds what the source holds,
     * the users' sessions too (a row rewritten by delete and insert would take them with it, ON DELETE CASCADE).
     */
    @Test
    @Order(5)
    void twoRowsSwappingAUniqueValueDuringTheMoveDoNotBreakIt() throws Exception {
        Assumptions.assumeTrue(machine, "no PostgreSQL with TLS on 127.0.0.1:5432");
        reopenMachine();
        Tenant tenant = tenant("swap");
        UUID ann = UUID.randomUUID();
        UUID bob = UUID.randomUUID();
        silo.core().tenantDatabases().inTransaction(tenant, connection -> {
            for (UUID user : List.of(ann, bob)) {
                try (PreparedStatement insert = connection.prepareStatement("""
                        INSERT INTO users (id, email, email_normalized, password_hash, role, created_at, updated_at,
                                           password_changed_at)
                        VALUES (?, ?, ?, 'not a hash', 'member', now(), now(), now())
                        """)) {
                    String email = (user.equals(ann) ? "ann" : "bob") + "@swap.example";
                    insert.setObject(1, user);
                    insert.setString(2, email);
                    insert.setString(3, email);
                    insert.executeUpdate();
                }
                try (PreparedStatement insert = connection.prepareStatement("""
                        INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES (gen_random_uuid(), ?, now(),
                                              now() + interval '1 day')
                        """)) {
                    insert.setObject(1, user);
                    insert.executeUpdate();
                }
            }
            return null;
        });
        var url = silo.core().placements().tenantUrl(tenant);
        List<String> progress = new CopyOnWriteArrayList<>();
        AtomicInteger swaps = new AtomicInteger();
        Map<String, Object> result;
        try (Connection writer = DriverManager.getConnection(url.jdbcUrl(), url.properties());
             Jobs jobs = new Jobs(silo.core().catalog())) {
            TenantMoves moves = Silo.tenantMoves(silo.core(), jobs);
            result = moves.run(moves.prepare(tenant.slug(), MACHINE, Actor.SYSTEM), line -> {
                progress.add(line);
                // After the snapshot (the first catch-up round replays it) and before the freeze (its last round does).
                if (line.startsWith("copied ") || line.startsWith("refusing writes")) {
                    swapEmails(writer, ann, bob);
                    swaps.incrementAndGet();
                }
            });
        }
        assertThat(swaps.get()).as(String.join("\n", progress)).isEqualTo(2);
        assertThat(result.get("to")).isEqualTo(MACHINE);
        Tenant now = silo.tenants().get(tenant.slug());
        assertThat(silo.tenants().view(now).get("placement")).isEqualTo(MACHINE);
        UUID embedded = silo.core().placements().find("embedded").id();
        var source = silo.core().placements().adminUrl(embedded, tenant.databaseName());
        for (String query : List.of("SELECT string_agg(id || '=' || email_normalized, ',' ORDER BY id) FROM users",
                "SELECT string_agg(id || '>' || user_id, ',' ORDER BY id) FROM sessions")) {
            String onSource;
            try (Connection connection = DriverManager.getConnection(source.jdbcUrl(), source.properties())) {
                onSource = text(connection, query);
            }
            String onTarget;
            try (Connection connection = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/" + tenant.databaseName(),
                    machineProperties())) {
                onTarget = text(connection, query);
            }
            assertThat(onTarget).as(query).isEqualTo(onSource).isNotNull();
        }
        assertThat(machineQuery(tenant.databaseName(), "SELECT count(*) FROM sessions")).isEqualTo(2);
    }

    /** One committed transaction that swaps the two users' emails through a temporary value. */
    private static void swapEmails(Connection connection, UUID first, UUID second) {
        try {
            connection.setAutoCommit(false);
            String firstEmail = email(connection, first);
            String secondEmail = email(connection, second);
            try (PreparedStatement update = connection.prepareStatement("UPDATE users SET email_normalized = ? WHERE id = ?")) {
                for (Object[] step : List.of(new Object[] {"swapping@swap.example", first}, new Object[] {firstEmail, second},
                        new Object[] {secondEmail, first})) {
                    update.setString(1, (String) step[0]);
                    update.setObject(2, step[1]);
                    assertThat(update.executeUpdate()).isEqualTo(1);
                }
            }
            connection.commit();
            connection.setAutoCommit(true);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot swap the emails: " + e.getMessage(), e);
        }
    }

    private static String email(Connection connection, UUID user) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement("SELECT email_normalized FROM users WHERE id = ?")) {
            select.setObject(1, user);
            try (ResultSet rs = select.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    private static String text(Connection connection, String query) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement(query); ResultSet rs = select.executeQuery()) {
            rs.next();
            return rs.getString(1);
        }
    }

    /**
     * {@code silo tenants move} as an operator runs it: each step, then the outcome (or JSON with --json), exit 0;
     * a wrong slug, placement or target is one line on stderr and exit 1, a missing --to a usage error.
     */
    @Test
    @Order(6)
    void theMoveCommandMovesATenantAndRefusesBadMovesInOneLine() {
        Assumptions.assumeTrue(machine, "no PostgreSQL with TLS on 127.0.0.1:5432");
        reopenMachine();
        Tenant tenant = tenant("cli-move");
        TestingHttp admin = admin(tenant);
        String notes = collection(admin, tenant);
        String id = admin.post("/t/" + tenant.slug() + "/collections/" + notes + "/records", "{\"kept\": true}").json()
                .get("id").asText();

        Run moved = cli("tenants", "move", tenant.slug(), "--to", MACHINE);
        assertThat(moved.code()).as(moved.out() + moved.err()).isZero();
        assertThat(moved.out()).contains("creating the database of " + tenant.slug() + " on " + MACHINE, "in one snapshot",
                "refusing writes to " + tenant.slug(), "moved tenant " + tenant.slug() + " from embedded to " + MACHINE,
                "writes paused");
        assertThat(silo.tenants().view(silo.tenants().get(tenant.slug())).get("placement")).isEqualTo(MACHINE);
        assertThat(admin.get("/t/" + tenant.slug() + "/collections/" + notes + "/records/" + id).status()).isEqualTo(200);

        Run back = cli("tenants", "move", tenant.slug(), "--to", "embedded", "--json");
        assertThat(back.code()).as(back.out() + back.err()).isZero();
        JsonNode json = back.json();
        assertThat(json.get("tenant").asText()).isEqualTo(tenant.slug());
        assertThat(json.get("from").asText()).isEqualTo(MACHINE);
        assertThat(json.get("to").asText()).isEqualTo("embedded");
        assertThat(json.get("rows").get("records").asLong()).isEqualTo(1);
        assertThat(json.get("write_pause_ms").asLong()).isNotNegative();
        assertThat(silo.tenants().view(silo.tenants().get(tenant.slug())).get("placement")).isEqualTo("embedded");
        assertThat(admin.get("/t/" + tenant.slug() + "/collections/" + notes + "/records/" + id).status()).isEqualTo(200);

        assertOneLineError(cli("tenants", "move", "no-such-tenant", "--to", MACHINE), "no-such-tenant");
        assertOneLineError(cli("tenants", "move", tenant.slug(), "--to", "nowhere"), "no placement named 'nowhere'");
        assertOneLineError(cli("tenants", "move", tenant.slug(), "--to", "embedded"), "already on placement 'embedded'");
        Run missing = cli("tenants", "move", tenant.slug());
        assertThat(missing.code()).isEqualTo(2);
        assertThat(missing.err()).contains("--to");
        Run help = cli("tenants", "move", "--help");
        assertThat(help.code()).isZero();
        assertThat(help.out()).contains("Move a tenant's database to another placement while it is served");
        assertThat(silo.tenants().view(silo.tenants().get(tenant.slug())).get("placement")).isEqualTo("embedded");
    }

    /**
     * One drain per placement at a time, across nodes and commands: while one runs (here prepared by another node),
     * {@code silo placements drain} fails in one line and the route answers 409 drain-running; once that node dies
     * (its catalog session, and the advisory lock with it, ends), the command moves every tenant off and says so,
     * and after it ended the route drains again.
     */
    @Test
    @Order(7)
    void aSecondDrainOfAPlacementIsRefusedWhileOneRunsAndTheCommandReportsEveryTenantMoved() throws Exception {
        Assumptions.assumeTrue(machine, "no PostgreSQL with TLS on 127.0.0.1:5432");
        reopenMachine();
        Tenant first = silo.tenants().create(slug("drained"), null, Optional.of(MACHINE), Actor.SYSTEM);
        Tenant second = silo.tenants().create(slug("drained"), null, Optional.of(MACHINE), Actor.SYSTEM);
        Jobs otherNode = new Jobs(silo.core().catalog());
        TenantMoves.PreparedDrain running = Silo.tenantMoves(silo.core(), otherNode).prepareDrain(MACHINE, Actor.SYSTEM);
        try {
            Run refused = cli("placements", "drain", MACHINE);
            assertOneLineError(refused, "placement '" + MACHINE + "' is already being drained");
            assertThat(refused.err()).contains(running.jobId().toString());
            assertProblem(operator.post("/admin/placements/" + MACHINE + "/drain", ""), 409, "drain-running");
            assertThat(silo.tenants().view(silo.tenants().get(first.slug())).get("placement")).isEqualTo(MACHINE);

            // The other node dies: its sessions end, and the lock with them (its job reads interrupted later).
            long ended = dev.silo.platform.db.Sql.withConnection(silo.core().catalog(), connection -> {
                try (PreparedStatement terminate = connection.prepareStatement("SELECT count(pg_terminate_backend(pid)) "
                        + "FROM pg_stat_activity WHERE application_name = 'silo-placement-drain'");
                     ResultSet rs = terminate.executeQuery()) {
                    rs.next();
                    return rs.getLong(1);
                }
            });
            assertThat(ended).isEqualTo(1);
        } finally {
            otherNode.close();
            running.lock().close();
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> dev.silo.platform.db.Sql.withConnection(silo.core().catalog(),
                connection -> {
                    try (PreparedStatement select = connection.prepareStatement("SELECT count(*) FROM pg_stat_activity "
                            + "WHERE application_name = 'silo-placement-drain'"); ResultSet rs = select.executeQuery()) {
                        rs.next();
                        return rs.getLong(1) == 0;
                    }
                }));
        Run drained = cli("placements", "drain", MACHINE);
        assertThat(drained.code()).as(drained.out() + drained.err()).isZero();
        assertThat(drained.out()).contains("moved tenant " + first.slug() + " from " + MACHINE + " to embedded",
                "moved tenant " + second.slug() + " from " + MACHINE + " to embedded", "placement '" + MACHINE + "' drained:",
                first.slug(), second.slug());
        for (Tenant tenant : List.of(first, second)) {
            assertThat(silo.tenants().view(silo.tenants().get(tenant.slug())).get("placement")).isEqualTo("embedded");
        }
        assertThat(silo.core().placements().find(MACHINE).liveTenants()).isZero();

        // The command's drain ended, and with it its lock: the route drains again (nothing is left to move).
        var again = operator.post("/admin/placements/" + MACHINE + "/drain", "");
        assertThat(again.status()).as(again.body()).isEqualTo(202);
        String job = again.json().get("job").asText();
        await().atMost(Duration.ofMinutes(1)).until(() ->
                !operator.get("/admin/jobs/" + job).json().get("state").asText().equals("running"));
        JsonNode done = operator.get("/admin/jobs/" + job).json();
        assertThat(done.get("state").asText()).as(done.toString()).isEqualTo("succeeded");
        assertThat(done.get("result").get("moved").size()).isZero();
        Run json = cli("placements", "drain", MACHINE, "--json");
        assertThat(json.code()).as(json.out() + json.err()).isZero();
        assertThat(json.json().get("placement").asText()).isEqualTo(MACHINE);
        assertThat(json.json().get("moved").size()).isZero();
        assertThat(json.json().get("failed").size()).isZero();
    }

    private record Run(int code, String out, String err) {
        JsonNode json() {
            try {
                return dev.silo.platform.http.Json.MAPPER.readTree(out);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException("not JSON: " + out + err, e);
            }
        }
    }

    /** The {@code silo} command line, run against this test's node as an operator runs it. */
    private static Run cli(String... args) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        List<String> full = new java.util.ArrayList<>(List.of(args));
        full.add("--data-dir");
        full.add(silo.config().dataDir().toString());
        int code = dev.silo.app.Main.run(full.toArray(String[]::new), Map.of(),
                new java.io.PrintStream(out, true, StandardCharsets.UTF_8), new java.io.PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    private static void assertOneLineError(Run run, String says) {
        assertThat(run.code()).as(run.out() + run.err()).isEqualTo(1);
        assertThat(run.err().strip()).startsWith("silo: ").contains(says);
        assertThat(run.err().strip().lines().count()).as(run.err()).isEqualTo(1);
    }

    /** The earlier tests drained the machine's placement; these move tenants onto it again. */
    private static void reopenMachine() {
        silo.core().placements().setAccepting(MACHINE, true, Actor.SYSTEM);
    }

    // ---- helpers

    private static Tenant tenant(String prefix) {
        return silo.tenants().create(slug(prefix), null, Optional.of("embedded"), Actor.SYSTEM);
    }

    private static String slug(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private static TestingHttp admin(Tenant tenant) {
        var created = operator.post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        var login = http.post("/t/" + tenant.slug() + "/auth/login", "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        return http.withBearer(login.json().get("access_token").asText());
    }

    private static String collection(TestingHttp admin, Tenant tenant) {
        String name = "notes_" + UUID.randomUUID().toString().replace("-", "").substring(0, 8);
        var created = admin.send(admin.request("/t/" + tenant.slug() + "/collections/" + name)
                .header("Content-Type", "application/json").PUT(HttpRequest.BodyPublishers.ofString("")).build());
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return name;
    }

    /** Rows enough that the copy takes a while; written straight into the tenant's database. */
    private static void seed(Tenant tenant, String collection, int rows) {
        silo.core().tenantDatabases().inTransaction(tenant, connection -> {
            try (PreparedStatement insert = connection.prepareStatement("""
                    INSERT INTO records (id, collection, version, data, created_at, created_by, updated_at, updated_by)
                    SELECT gen_random_uuid(), ?, 1, jsonb_build_object('seed', g, 'text', repeat('x', 200)), now(),
                           gen_random_uuid(), now(), gen_random_uuid()
                    FROM generate_series(1, ?) g
                    """)) {
                insert.setString(1, collection);
                insert.setInt(2, rows);
                insert.executeUpdate();
            }
            return null;
        });
    }

    private static List<String> auditActions(String slug) {
        return dev.silo.platform.db.Sql.withConnection(silo.core().catalog(), connection -> {
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT action FROM platform_audit WHERE target = ? ORDER BY seq")) {
                select.setString(1, "tenant:" + slug);
                try (ResultSet rs = select.executeQuery()) {
                    List<String> actions = new java.util.ArrayList<>();
                    while (rs.next()) {
                        actions.add(rs.getString(1));
                    }
                    return actions;
                }
            }
        });
    }

    /** Whether the role exists on the embedded server, and if so whether it may log in. */
    private static Optional<Boolean> embeddedRole(String role) {
        return dev.silo.platform.db.Sql.withConnection(silo.core().catalog(), connection -> {
            try (PreparedStatement select = connection.prepareStatement("SELECT rolcanlogin FROM pg_roles WHERE rolname = ?")) {
                select.setString(1, role);
                try (ResultSet rs = select.executeQuery()) {
                    return rs.next() ? Optional.of(rs.getBoolean(1)) : Optional.empty();
                }
            }
        });
    }

    private static boolean embeddedDatabaseExists(String database) {
        return dev.silo.platform.db.Sql.withConnection(silo.core().catalog(), connection -> {
            try (PreparedStatement select = connection.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
                select.setString(1, database);
                try (ResultSet rs = select.executeQuery()) {
                    return rs.next();
                }
            }
        });
    }

    private static long machineQuery(String database, String sql) throws SQLException {
        try (Connection connection = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/" + database, machineProperties());
             PreparedStatement select = connection.prepareStatement(sql);
             ResultSet rs = select.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static Properties machineProperties() {
        Properties properties = new Properties();
        properties.setProperty("user", "postgres");
        properties.setProperty("sslmode", "require");
        properties.setProperty("connectTimeout", "3");
        return properties;
    }

    private static boolean machinePostgresWithTls() {
        try (Connection connection = DriverManager.getConnection("jdbc:postgresql://127.0.0.1:5432/postgres", machineProperties())) {
            return connection.isValid(3);
        } catch (SQLException e) {
            return false;
        }
    }

    private static void assertProblem(TestingHttp.Response response, int status, String type) {
        assertThat(response.status()).as(response.body()).isEqualTo(status);
        assertThat(response.contentType()).isEqualTo("application/problem+json");
        assertThat(response.json().get("type").asText()).as(response.body()).isEqualTo("https://silo.dev/problems/" + type);
    }
}
