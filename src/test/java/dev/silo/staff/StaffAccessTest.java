package dev.silo.staff;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Main;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.platform.db.Sql;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Staff access only with the customer's approval, time-boxed and recorded on both sides (issue 17, claim C19): each
 * attack on the grant is a test.
 */
class StaffAccessTest {
    private static final String PASSWORD = "correct horse battery staple";
    private static Silo silo;
    /** A second node on the same catalog, with SILO_EMERGENCY_ACCESS=true. */
    private static Silo emergencyNode;
    private static TestingHttp http;
    private static TestingHttp rootOperator;

    private record Operator(String name, String email, TestingHttp http) {}

    private record Fixture(Tenant tenant, String adminEmail, TestingHttp admin, String recordId) {
        String base() {
            return "/t/" + tenant.slug();
        }
    }

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        http = new TestingHttp(silo.baseUri());
        rootOperator = http.withBearer(TestingSilo.operatorKey(silo));
    }

    @AfterAll
    static void stop() {
        if (emergencyNode != null) {
            emergencyNode.close();
        }
    }

    private static synchronized Silo emergencyNode() {
        if (emergencyNode == null) {
            emergencyNode = TestingSilo.startOnSharedCatalog("emergency", Map.of("SILO_EMERGENCY_ACCESS", "true"));
        }
        return emergencyNode;
    }

    private static String suffix() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    private static Operator operator(String prefix, TestingHttp on) {
        String name = prefix + "-" + suffix();
        String key = silo.core().operators().create(name, Actor.SYSTEM).key();
        String email = name + "@silo.example";
        silo.core().operators().setEmail(name, email, Actor.SYSTEM);
        return new Operator(name, email, on.withBearer(key));
    }

    private static Operator operator(String prefix) {
        return operator(prefix, http);
    }

    /** A tenant with an admin, a collection "notes" and one record in it. */
    private static Fixture tenant(String prefix) {
        Tenant tenant = silo.tenants().create(prefix + "-" + suffix(), null, Optional.empty(), Actor.SYSTEM);
        String email = "ann@" + tenant.slug() + ".example";
        var created = rootOperator.post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"" + email + "\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        TestingHttp admin = login(http, tenant, email);
        var collection = put(admin, "/t/" + tenant.slug() + "/collections/notes", "{}", null);
        assertThat(collection.status()).as(collection.body()).isIn(200, 201);
        var record = admin.post("/t/" + tenant.slug() + "/collections/notes/records", "{\"text\":\"secret of " + tenant.slug() + "\"}");
        assertThat(record.status()).as(record.body()).isEqualTo(201);
        return new Fixture(tenant, email, admin, record.json().get("id").asText());
    }

    private static TestingHttp login(TestingHttp on, Tenant tenant, String email) {
        var login = on.post("/t/" + tenant.slug() + "/auth/login", "{\"email\":\"" + email + "\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(login.status()).as(login.body()).isEqualTo(200);
        return on.withBearer(login.json().get("access_token").asText());
    }

    private static TestingHttp.Response put(TestingHttp as, String path, String json, String ifMatch) {
        HttpRequest.Builder builder = as.request(path).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(json));
        if (ifMatch != null) {
            builder.header("If-Match", ifMatch);
        }
        return as.send(builder.build());
    }

    private static TestingHttp.Response patch(TestingHttp as, String path, String json) {
        return as.send(as.request(path).header("Content-Type", "application/merge-patch+json").header("If-Match", "\"1\"")
                .method("PATCH", HttpRequest.BodyPublishers.ofString(json)).build());
    }

    private static TestingHttp.Response deleteWithIfMatch(TestingHttp as, String path) {
        return as.send(as.request(path).header("If-Match", "\"1\"").DELETE().build());
    }

    private static String request(Operator operator, Fixture fixture, String scope, int minutes) {
        var response = operator.http().post("/admin/tenants/" + fixture.tenant().slug() + "/access-requests",
                "{\"reason\":\"ticket 4711: customer reports missing notes\",\"scope\":\"" + scope + "\",\"duration_minutes\":" + minutes + "}");
        assertThat(response.status()).as(response.body()).isEqualTo(201);
        assertThat(response.json().get("status").asText()).isEqualTo("pending");
        return response.json().get("id").asText();
    }

    private static String approveAndPickUp(Operator operator, Fixture fixture, String id) {
        var approved = fixture.admin().post(fixture.base() + "/access-requests/" + id + "/approve", "");
        assertThat(approved.status()).as(approved.body()).isEqualTo(200);
        assertThat(approved.json().get("status").asText()).isEqualTo("approved");
        return pickUp(operator, fixture, id);
    }

    private static String pickUp(Operator operator, Fixture fixture, String id) {
        var token = operator.http().post("/admin/tenants/" + fixture.tenant().slug() + "/access-requests/" + id + "/token", "");
        assertThat(token.status()).as(token.body()).isEqualTo(200);
        String value = token.json().get("token").asText();
        assertThat(value).startsWith("silo_ga_");
        return value;
    }

    private static void assertProblem(TestingHttp.Response response, int status, String type) {
        assertThat(response.status()).as(response.body()).isEqualTo(status);
        assertThat(response.contentType()).isEqualTo("application/problem+json");
        assertThat(response.json().get("type").asText()).isEqualTo("https://silo.dev/problems/" + type);
    }

    private static List<JsonNode> staffAudit(Fixture fixture) {
        var audit = fixture.admin().get(fixture.base() + "/audit?type=staff-access&limit=500");
        assertThat(audit.status()).as(audit.body()).isEqualTo(200);
        List<JsonNode> entries = new ArrayList<>();
        for (JsonNode entry : audit.json().get("entries")) {
            entries.add(entry);
        }
        return entries;
    }

    private static JsonNode detail(JsonNode entry) {
        try {
            return dev.silo.platform.http.Json.MAPPER.readTree(entry.get("detail").asText());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static List<String> platformActions(Fixture fixture, String grantId) {
        return Sql.withConnection(silo.catalog(), connection -> {
            List<String> actions = new ArrayList<>();
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT action FROM platform_audit WHERE target = ? AND detail::jsonb ->> 'grant_id' = ? ORDER BY seq")) {
                select.setString(1, "tenant:" + fixture.tenant().slug());
                select.setString(2, grantId);
                try (ResultSet rs = select.executeQuery()) {
                    while (rs.next()) {
                        actions.add(rs.getString(1));
                    }
                }
            }
            return actions;
        });
    }

    /** Every route of a tenant that takes a token, as (method, path, body). */
    private static List<String[]> everyTenantRoute(Fixture fixture) {
        String b = fixture.base();
        String record = b + "/collections/notes/records/" + fixture.recordId();
        UUID someone = UUID.randomUUID();
        return List.of(
                new String[] {"GET", b + "/collections", null},
                new String[] {"GET", b + "/collections/notes", null},
                new String[] {"PUT", b + "/collections/other", "{}"},
                new String[] {"DELETE", b + "/collections/notes", null},
                new String[] {"GET", b + "/collections/notes/records", null},
                new String[] {"POST", b + "/collections/notes/records", "{\"text\":\"x\"}"},
                new String[] {"GET", record, null},
                new String[] {"PUT", record, "{\"text\":\"y\"}"},
                new String[] {"DELETE", record, null},
                new String[] {"GET", b + "/export", null},
                new String[] {"GET", b + "/me", null},
                new String[] {"POST", b + "/me/password", "{\"current_password\":\"a\",\"new_password\":\"b\"}"},
                new String[] {"POST", b + "/auth/logout", ""},
                new String[] {"GET", b + "/users", null},
                new String[] {"POST", b + "/users", "{\"email\":\"eve@evil.example\",\"role\":\"admin\",\"password\":\"" + PASSWORD + "\"}"},
                new String[] {"GET", b + "/users/" + someone, null},
                new String[] {"DELETE", b + "/users/" + someone, null},
                new String[] {"POST", b + "/users/" + someone + "/password-reset", ""},
                new String[] {"GET", b + "/audit", null},
                new String[] {"GET", b + "/audit/verify", null},
                new String[] {"GET", b + "/backups", null},
                new String[] {"GET", b + "/backups/" + someone + "/download", null},
                new String[] {"GET", b + "/settings/cors", null},
                new String[] {"PUT", b + "/settings/cors", "{\"origins\":[]}"},
                new String[] {"GET", b + "/access-requests", null},
                new String[] {"POST", b + "/access-requests/" + someone + "/approve", ""},
                new String[] {"POST", b + "/access-requests/" + someone + "/deny", ""},
                new String[] {"DELETE", b + "/access-requests/" + someone, null});
    }

    private static TestingHttp.Response call(TestingHttp as, String[] route) {
        HttpRequest.Builder builder = as.request(route[1]).header("If-Match", "\"1\"");
        if (route[2] != null) {
            builder.header("Content-Type", "application/json");
        }
        HttpRequest.BodyPublisher body = route[2] == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(route[2]);
        return as.send(builder.method(route[0], body).build());
    }

    // ---- the tests

    @Test
    void anOperatorKeyAloneIsRefusedOnEveryTenantRoute() {
        Fixture fixture = tenant("opkey");
        Operator operator = operator("opkey");
        for (String[] route : everyTenantRoute(fixture)) {
            var response = call(operator.http(), route);
            assertThat(response.status()).as(route[0] + " " + route[1] + ": " + response.body()).isEqualTo(403);
            assertThat(response.json().get("type").asText()).as(route[1]).endsWith("/operator-key-refused");
        }
        // and the bootstrap operator's key likewise
        assertProblem(rootOperator.get(fixture.base() + "/collections/notes/records"), 403, "operator-key-refused");
    }

    @Test
    void aDeniedRequestGivesNoAccess() {
        Fixture fixture = tenant("deny");
        Operator operator = operator("deny");
        String id = request(operator, fixture, "read", 30);
        // nothing is granted by an operator alone: the operator cannot approve a normal request, nor pick up a token
        assertProblem(operator.http().post("/admin/tenants/" + fixture.tenant().slug() + "/access-requests/" + id + "/approve", ""),
                403, "customer-approval-required");
        assertProblem(operator.http().post("/admin/tenants/" + fixture.tenant().slug() + "/access-requests/" + id + "/token", ""),
                409, "access-request-pending");

        var listed = fixture.admin().get(fixture.base() + "/access-requests");
        assertThat(listed.status()).as(listed.body()).isEqualTo(200);
        assertThat(listed.json().get("requests").get(0).get("reason").asText()).contains("ticket 4711");
        assertThat(listed.json().get("requests").get(0).get("operator").asText()).isEqualTo(operator.name());

        var denied = fixture.admin().post(fixture.base() + "/access-requests/" + id + "/deny", "");
        assertThat(denied.status()).as(denied.body()).isEqualTo(200);
        assertThat(denied.json().get("status").asText()).isEqualTo("denied");
        assertProblem(fixture.admin().post(fixture.base() + "/access-requests/" + id + "/approve", ""), 409, "access-request-decided");
        assertProblem(operator.http().post("/admin/tenants/" + fixture.tenant().slug() + "/access-requests/" + id + "/token", ""),
                409, "access-request-denied");
        assertThat(platformActions(fixture, id)).containsExactly("staff-access.request", "staff-access.deny");
        assertThat(staffAudit(fixture)).extracting(entry -> detail(entry).get("event").asText()).contains("request", "deny");
    }

    @Test
    void aReadGrantReadsButNeitherWritesNorAdministersNorReachesAnotherTenant() {
        Fixture fixture = tenant("read");
        Fixture other = tenant("other");
        Operator operator = operator("read");
        String id = request(operator, fixture, "read", 60);
        String token = approveAndPickUp(operator, fixture, id);
        // shown once: a second pick-up is refused
        assertProblem(operator.http().post("/admin/tenants/" + fixture.tenant().slug() + "/access-requests/" + id + "/token", ""),
                409, "grant-token-issued");
        TestingHttp staff = http.withBearer(token);
        String record = fixture.base() + "/collections/notes/records/" + fixture.recordId();

        var read = staff.get(record);
        assertThat(read.status()).as(read.body()).isEqualTo(200);
        assertThat(read.json().get("data").get("text").asText()).isEqualTo("secret of " + fixture.tenant().slug());
        assertThat(staff.get(fixture.base() + "/collections/notes/records").status()).isEqualTo(200);
        assertThat(staff.get(fixture.base() + "/collections").status()).isEqualTo(200);

        assertProblem(staff.post(fixture.base() + "/collections/notes/records", "{\"text\":\"planted\"}"), 403, "grant-read-only");
        assertProblem(put(staff, record, "{\"text\":\"changed\"}", "\"1\""), 403, "grant-read-only");
        assertProblem(patch(staff, record, "{\"text\":\"changed\"}"), 403, "grant-read-only");
        assertProblem(deleteWithIfMatch(staff, record), 403, "grant-read-only");

        // everything that is not a record or collection read/write is the tenant's own
        for (String[] route : everyTenantRoute(fixture)) {
            if (route[1].contains("/collections")) {
                continue;
            }
            var response = call(staff, route);
            assertThat(response.status()).as(route[0] + " " + route[1] + ": " + response.body()).isEqualTo(403);
            assertThat(response.json().get("type").asText()).as(route[1]).endsWith("/staff-grant-not-allowed");
        }
        assertProblem(put(staff, fixture.base() + "/collections/other", "{}", null), 403, "staff-grant-not-allowed");
        assertProblem(staff.send(staff.request(fixture.base() + "/collections/notes").DELETE().build()), 403, "staff-grant-not-allowed");

        // the grant of tenant A presented at tenant B's routes
        assertProblem(staff.get(other.base() + "/collections/notes/records"), 403, "grant-other-tenant");
        assertProblem(staff.get(other.base() + "/users"), 403, "staff-grant-not-allowed");

        // the record was not changed
        var after = fixture.admin().get(record);
        assertThat(after.json().get("data").get("text").asText()).isEqualTo("secret of " + fixture.tenant().slug());
        assertThat(after.json().get("version").asLong()).isEqualTo(1);
    }

    @Test
    void aReadWriteGrantWritesRecordsButNotCollections() {
        Fixture fixture = tenant("write");
        Operator operator = operator("write");
        String token = approveAndPickUp(operator, fixture, request(operator, fixture, "read-write", 30));
        TestingHttp staff = http.withBearer(token);
        String record = fixture.base() + "/collections/notes/records/" + fixture.recordId();
        var replaced = put(staff, record, "{\"text\":\"fixed by support\"}", "\"1\"");
        assertThat(replaced.status()).as(replaced.body()).isEqualTo(200);
        var created = staff.post(fixture.base() + "/collections/notes/records", "{\"text\":\"restored note\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        assertProblem(put(staff, fixture.base() + "/collections/other", "{}", null), 403, "staff-grant-not-allowed");
        assertProblem(staff.get(fixture.base() + "/export"), 403, "staff-grant-not-allowed");
    }

    @Test
    void aForgedOrUnknownGrantTokenIsRefused() {
        Fixture fixture = tenant("forged");
        String path = fixture.base() + "/collections/notes/records";
        String unknown = "silo_ga_" + "A".repeat(43);
        assertThat(http.withBearer(unknown).get(path).status()).isEqualTo(401);
        assertThat(http.withBearer("silo_ga_short").get(path).status()).isEqualTo(401);
        assertThat(http.withBearer("silo_ga_" + "A".repeat(42) + "!").get(path).status()).isEqualTo(401);
        assertThat(http.withBearer(unknown).get(path).header("WWW-Authenticate")).contains("invalid_token");
    }

    @Test
    void expiryEndsAccessAtOnceAndIsAudited() {
        Fixture fixture = tenant("expiry");
        Operator operator = operator("expiry");
        String id = request(operator, fixture, "read", 30);
        TestingHttp staff = http.withBearer(approveAndPickUp(operator, fixture, id));
        String path = fixture.base() + "/collections/notes/records";
        assertThat(staff.get(path).status()).isEqualTo(200);
        try {
            TestingSilo.CLOCK.advance(Duration.ofMinutes(29));
            assertThat(staff.get(path).status()).isEqualTo(200);
            TestingSilo.CLOCK.advance(Duration.ofMinutes(1));
            assertProblem(staff.get(path), 403, "grant-expired");
        } finally {
            TestingSilo.CLOCK.reset();
        }
        // expired for good, even when the clock is back: the first refused use recorded the end
        assertProblem(staff.get(path), 403, "grant-expired");
        TestingHttp admin = login(http, fixture.tenant(), fixture.adminEmail());
        var shown = admin.get(fixture.base() + "/access-requests/" + id);
        assertThat(shown.json().get("status").asText()).isEqualTo("expired");
        assertThat(platformActions(fixture, id)).containsSubsequence("staff-access.access", "staff-access.access",
                "staff-access.expire", "staff-access.refused");
        assertProblem(admin.delete(fixture.base() + "/access-requests/" + id), 409, "access-request-expired");
    }

    @Test
    void theSweepMarksGrantsPastTheirEndExpired() {
        Fixture fixture = tenant("sweep");
        Operator operator = operator("sweep");
        String id = request(operator, fixture, "read", 5);
        approveAndPickUp(operator, fixture, id);
        StaffGrants grants = grantsOf(silo);
        try {
            TestingSilo.CLOCK.advance(Duration.ofMinutes(6));
            assertThat(grants.expireDue()).isGreaterThanOrEqualTo(1);
        } finally {
            TestingSilo.CLOCK.reset();
        }
        assertThat(platformActions(fixture, id)).endsWith("staff-access.expire");
        assertThat(staffAudit(fixture)).extracting(entry -> detail(entry).get("event").asText()).contains("expire");
    }

    private static StaffGrants grantsOf(Silo node) {
        StaffAccess access = new StaffAccess(node.catalog(), node.core().tenantDatabases(), node.core().audit(),
                node.core().tenantAudit(), TestingSilo.CLOCK, false);
        return new StaffGrants(access, node.catalog(), node.tenants());
    }

    @Test
    void revocationEndsAccessAtOnceOnEveryNode() {
        Fixture fixture = tenant("revoke");
        Operator operator = operator("revoke");
        String id = request(operator, fixture, "read", 120);
        String token = approveAndPickUp(operator, fixture, id);
        TestingHttp here = http.withBearer(token);
        TestingHttp there = new TestingHttp(emergencyNode().baseUri()).withBearer(token);
        String path = fixture.base() + "/collections/notes/records/" + fixture.recordId();
        assertThat(here.get(path).status()).isEqualTo(200);
        assertThat(there.get(path).status()).isEqualTo(200);

        // an operator revoked on the platform loses their grants too
        Operator leaver = operator("leaver");
        TestingHttp leaverGrant = http.withBearer(approveAndPickUp(leaver, fixture, request(leaver, fixture, "read", 30)));
        assertThat(leaverGrant.get(path).status()).isEqualTo(200);
        silo.core().operators().revoke(leaver.name(), Actor.SYSTEM);
        assertProblem(leaverGrant.get(path), 403, "grant-operator-revoked");

        var revoked = fixture.admin().delete(fixture.base() + "/access-requests/" + id);
        assertThat(revoked.status()).as(revoked.body()).isEqualTo(200);
        assertThat(revoked.json().get("status").asText()).isEqualTo("revoked");
        // no wait, no event to miss: the very next request on either node is refused
        assertProblem(there.get(path), 403, "grant-revoked");
        assertProblem(here.get(path), 403, "grant-revoked");
        assertProblem(fixture.admin().delete(fixture.base() + "/access-requests/" + id), 409, "access-request-revoked");
    }

    @Test
    void theTenantsAuditShowsEveryAccessWithTheReasonAndSoDoesThePlatforms() {
        Fixture fixture = tenant("audit");
        Operator operator = operator("audit");
        String id = request(operator, fixture, "read", 30);
        TestingHttp staff = http.withBearer(approveAndPickUp(operator, fixture, id));
        assertThat(staff.get(fixture.base() + "/collections/notes/records/" + fixture.recordId()).status()).isEqualTo(200);
        assertThat(staff.get(fixture.base() + "/collections/notes/records").status()).isEqualTo(200);

        List<JsonNode> entries = staffAudit(fixture);
        List<JsonNode> accesses = entries.stream().filter(entry -> detail(entry).get("event").asText().equals("access")).toList();
        assertThat(accesses).hasSize(2);
        for (JsonNode entry : accesses) {
            JsonNode detail = detail(entry);
            assertThat(entry.get("actor").asText()).isEqualTo("operator:" + operator.name());
            assertThat(entry.get("subject").asText()).isEqualTo(id);
            assertThat(entry.get("request_id").asText()).isNotBlank();
            assertThat(detail.get("grant_id").asText()).isEqualTo(id);
            assertThat(detail.get("reason").asText()).isEqualTo("ticket 4711: customer reports missing notes");
            assertThat(detail.get("operator").asText()).isEqualTo(operator.name());
            assertThat(detail.get("collection").asText()).isEqualTo("notes");
        }
        // newest first: the listing, then the read of one record
        assertThat(detail(accesses.get(0)).get("route").asText()).isEqualTo("/t/{tenant}/collections/{name}/records");
        assertThat(detail(accesses.get(1)).get("route").asText()).isEqualTo("/t/{tenant}/collections/{name}/records/{id}");
        assertThat(detail(accesses.get(1)).get("record_id").asText()).isEqualTo(fixture.recordId());
        assertThat(entries).extracting(entry -> detail(entry).get("event").asText()).containsSubsequence("records", "access", "access",
                "approve", "request");
        // which records the listing returned, before it was answered
        JsonNode listed = detail(entries.stream().filter(entry -> detail(entry).get("event").asText().equals("records")).findFirst()
                .orElseThrow());
        assertThat(listed.get("record_ids")).extracting(JsonNode::asText).containsExactly(fixture.recordId());
        assertThat(listed.get("reason").asText()).isEqualTo("ticket 4711: customer reports missing notes");
        assertThat(platformActions(fixture, id)).containsExactly("staff-access.request", "staff-access.approve", "staff-access.token",
                "staff-access.access", "staff-access.access", "staff-access.records");
        var shown = fixture.admin().get(fixture.base() + "/access-requests/" + id);
        assertThat(shown.json().get("uses").asLong()).isEqualTo(2);
        assertThat(shown.json().has("token")).isFalse();
        // the tenant's chain still verifies with the staff entries in it
        assertThat(fixture.admin().get(fixture.base() + "/audit/verify").json().get("intact").asBoolean()).isTrue();
    }

    @Test
    void anOperatorWhoIsAlsoATenantAdminCannotApproveTheirOwnRequest() {
        Fixture fixture = tenant("self");
        Operator operator = operator("self");
        // the operator's own account in the tenant, under a +tag of their address
        String tagged = operator.email().replace("@", "+acme@").toUpperCase(java.util.Locale.ROOT);
        var created = fixture.admin().post(fixture.base() + "/users",
                "{\"email\":\"" + tagged + "\",\"role\":\"admin\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        TestingHttp own = login(http, fixture.tenant(), tagged);
        String id = request(operator, fixture, "read-write", 60);
        assertProblem(own.post(fixture.base() + "/access-requests/" + id + "/approve", ""), 403, "self-approval");
        assertThat(fixture.admin().get(fixture.base() + "/access-requests/" + id).json().get("status").asText()).isEqualTo("pending");
        // another admin may
        assertThat(fixture.admin().post(fixture.base() + "/access-requests/" + id + "/approve", "").status()).isEqualTo(200);
    }

    @Test
    void badInputIsAProblemNeverA500() {
        Fixture fixture = tenant("input");
        Operator operator = operator("input");
        String requests = "/admin/tenants/" + fixture.tenant().slug() + "/access-requests";
        assertProblem(operator.http().post(requests, "{\"reason\":\"ticket 1: long enough\",\"scope\":\"read\",\"duration_minutes\":481}"),
                400, "duration-too-long");
        assertProblem(operator.http().post(requests, "{\"reason\":\"ticket 1: long enough\",\"scope\":\"read\",\"duration_minutes\":0}"),
                400, "invalid-duration");
        assertProblem(operator.http().post(requests, "{\"reason\":\"ticket 1: long enough\",\"scope\":\"admin\",\"duration_minutes\":5}"),
                400, "invalid-scope");
        assertProblem(operator.http().post(requests, "{\"reason\":\"why\",\"scope\":\"read\",\"duration_minutes\":5}"), 400, "invalid-reason");
        assertProblem(operator.http().post(requests, "{\"scope\":\"read\",\"duration_minutes\":5}"), 400, "invalid-reason");
        assertThat(operator.http().post(requests, "{\"reason\":\"ticket 1: long enough\",\"scope\":\"read\",\"duration_minutes\":5,"
                + "\"grant\":true}").status()).isEqualTo(400);
        assertThat(operator.http().post(requests, "not json").status()).isEqualTo(400);
        // emergency is off unless SILO_EMERGENCY_ACCESS=true
        assertProblem(operator.http().post(requests, "{\"reason\":\"incident 9: outage\",\"scope\":\"read\",\"duration_minutes\":5,"
                + "\"emergency\":true}"), 403, "emergency-access-disabled");
        // an operator without an e-mail on record cannot ask
        String name = "noemail-" + suffix();
        TestingHttp anonymous = http.withBearer(silo.core().operators().create(name, Actor.SYSTEM).key());
        assertProblem(anonymous.post(requests, "{\"reason\":\"ticket 1: long enough\",\"scope\":\"read\",\"duration_minutes\":5}"),
                403, "operator-email-required");
        // unknown and malformed ids, on both sides
        UUID unknown = UUID.randomUUID();
        assertProblem(operator.http().get(requests + "/" + unknown), 404, "access-request-not-found");
        assertProblem(operator.http().get(requests + "/not-a-uuid"), 404, "access-request-not-found");
        assertProblem(fixture.admin().post(fixture.base() + "/access-requests/" + unknown + "/approve", ""), 404, "access-request-not-found");
        assertProblem(fixture.admin().delete(fixture.base() + "/access-requests/nope"), 404, "access-request-not-found");
        assertProblem(operator.http().post(requests + "/" + unknown + "/token", ""), 404, "access-request-not-found");
        // a request of one tenant is unknown at another
        String id = request(operator, fixture, "read", 5);
        Fixture other = tenant("input-other");
        assertProblem(other.admin().post(other.base() + "/access-requests/" + id + "/approve", ""), 404, "access-request-not-found");
        // a member is not an admin
        var member = fixture.admin().post(fixture.base() + "/users",
                "{\"email\":\"bob@" + fixture.tenant().slug() + ".example\",\"role\":\"member\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(member.status()).isEqualTo(201);
        TestingHttp bob = login(http, fixture.tenant(), "bob@" + fixture.tenant().slug() + ".example");
        assertProblem(bob.post(fixture.base() + "/access-requests/" + id + "/approve", ""), 403, "forbidden");
        // another operator cannot pick up this operator's grant
        assertThat(fixture.admin().post(fixture.base() + "/access-requests/" + id + "/approve", "").status()).isEqualTo(200);
        Operator thief = operator("thief");
        assertProblem(thief.http().post(requests + "/" + id + "/token", ""), 403, "not-your-request");
        assertThat(fixture.admin().post(fixture.base() + "/access-requests/" + id + "/deny", "").status()).isEqualTo(409);
    }

    @Test
    void anEmergencyGrantNeedsTwoDistinctOperatorsAndIsReadOnlyAndShownToTheTenant() {
        Silo node = emergencyNode();
        TestingHttp there = new TestingHttp(node.baseUri());
        Fixture fixture = tenant("emergency");
        Operator alice = operator("alice", there);
        Operator bob = operator("bob", there);
        String requests = "/admin/tenants/" + fixture.tenant().slug() + "/access-requests";
        assertProblem(alice.http().post(requests, "{\"reason\":\"incident 77: data corruption\",\"scope\":\"read-write\","
                + "\"duration_minutes\":30,\"emergency\":true}"), 400, "invalid-scope");
        assertProblem(alice.http().post(requests, "{\"reason\":\"incident 77: data corruption\",\"scope\":\"read\","
                + "\"duration_minutes\":61,\"emergency\":true}"), 400, "duration-too-long");
        var created = alice.http().post(requests, "{\"reason\":\"incident 77: data corruption\",\"scope\":\"read\","
                + "\"duration_minutes\":60,\"emergency\":true}");
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        String id = created.json().get("id").asText();

        assertProblem(alice.http().post(requests + "/" + id + "/approve", ""), 403, "second-operator-required");
        assertProblem(alice.http().post(requests + "/" + id + "/token", ""), 409, "access-request-pending");
        // the emergency path is a setting of the node: the default node refuses to approve it
        Operator carol = operator("carol");
        assertProblem(carol.http().post(requests + "/" + id + "/approve", ""), 403, "emergency-access-disabled");

        var approved = bob.http().post(requests + "/" + id + "/approve", "");
        assertThat(approved.status()).as(approved.body()).isEqualTo(200);
        assertThat(approved.json().get("decided_by").asText()).isEqualTo("operator:" + bob.name());
        assertProblem(bob.http().post(requests + "/" + id + "/approve", ""), 409, "access-request-decided");
        assertProblem(bob.http().post(requests + "/" + id + "/token", ""), 403, "not-your-request");

        var token = alice.http().post(requests + "/" + id + "/token", "");
        assertThat(token.status()).as(token.body()).isEqualTo(200);
        TestingHttp staff = there.withBearer(token.json().get("token").asText());
        assertThat(staff.get(fixture.base() + "/collections/notes/records").status()).isEqualTo(200);
        assertProblem(staff.post(fixture.base() + "/collections/notes/records", "{\"text\":\"x\"}"), 403, "grant-read-only");

        // the tenant's admins see it afterwards, with the reason, and can end it
        var listed = fixture.admin().get(fixture.base() + "/access-requests");
        JsonNode shown = listed.json().get("requests").get(0);
        assertThat(shown.get("emergency").asBoolean()).isTrue();
        assertThat(shown.get("reason").asText()).isEqualTo("incident 77: data corruption");
        assertThat(shown.get("decided_by").asText()).isEqualTo("operator:" + bob.name());
        assertThat(staffAudit(fixture)).extracting(entry -> detail(entry).get("event").asText())
                .containsSubsequence("access", "emergency-approve", "request");
        assertThat(fixture.admin().delete(fixture.base() + "/access-requests/" + id).status()).isEqualTo(200);
        assertProblem(staff.get(fixture.base() + "/collections/notes/records"), 403, "grant-revoked");
    }

    private record Run(int code, String out, String err) {}

    private static Run cli(Map<String, String> env, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        String[] full = new String[args.length + 2];
        System.arraycopy(args, 0, full, 0, args.length);
        full[args.length] = "--data-dir";
        full[args.length + 1] = silo.config().dataDir().toString();
        int code = Main.run(full, env, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void theCommandLineRequestsListsShowsAndPicksUpTheTokenOnce() throws Exception {
        Fixture fixture = tenant("cli");
        String name = "cli-" + suffix();
        String key = silo.core().operators().create(name, Actor.SYSTEM).key();
        assertThat(cli(Map.of(), "operators", "set-email", name, "Cli.Op@Silo.Example").code()).isZero();

        Run missingKey = cli(Map.of(), "access", "request", "--tenant", fixture.tenant().slug(), "--reason", "ticket 5: a reason",
                "--minutes", "30");
        assertThat(missingKey.code()).isEqualTo(2);
        assertThat(missingKey.err()).contains("SILO_OPERATOR_KEY");

        Map<String, String> env = Map.of("SILO_OPERATOR_KEY", key);
        Run requested = cli(env, "access", "request", "--tenant", fixture.tenant().slug(), "--reason", "ticket 5: a reason",
                "--minutes", "30", "--json");
        assertThat(requested.code()).as(requested.err()).isZero();
        JsonNode request = dev.silo.platform.http.Json.MAPPER.readTree(requested.out());
        String id = request.get("id").asText();
        assertThat(request.get("operator_email").asText()).isEqualTo("cli.op@silo.example");
        assertThat(request.get("status").asText()).isEqualTo("pending");

        Run tooLong = cli(env, "access", "request", "--tenant", fixture.tenant().slug(), "--reason", "ticket 5: a reason",
                "--minutes", "481");
        assertThat(tooLong.code()).isEqualTo(1);
        assertThat(tooLong.err()).contains("at most 480");

        Run listed = cli(Map.of(), "access", "list", "--tenant", fixture.tenant().slug());
        assertThat(listed.code()).as(listed.err()).isZero();
        assertThat(listed.out()).contains(id).contains("pending");

        assertThat(cli(env, "access", "token", id).code()).isEqualTo(1);
        assertThat(fixture.admin().post(fixture.base() + "/access-requests/" + id + "/approve", "").status()).isEqualTo(200);
        Run shown = cli(Map.of(), "access", "show", id);
        assertThat(shown.code()).as(shown.err()).isZero();
        assertThat(shown.out()).contains("approved").contains("ticket 5: a reason");

        Run token = cli(env, "access", "token", id, "--json");
        assertThat(token.code()).as(token.err()).isZero();
        String grant = dev.silo.platform.http.Json.MAPPER.readTree(token.out()).get("token").asText();
        assertThat(http.withBearer(grant).get(fixture.base() + "/collections/notes/records").status()).isEqualTo(200);
        Run again = cli(env, "access", "token", id);
        assertThat(again.code()).isEqualTo(1);
        assertThat(again.err()).contains("already picked up");
        assertThat(again.out() + again.err()).doesNotContain(grant);
    }
}
