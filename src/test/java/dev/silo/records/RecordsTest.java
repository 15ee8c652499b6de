package dev.silo.records;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Claims C12, C15, C24, C25 through the real server: CRUD, conditional writes, listing, bad input, isolation. */
class RecordsTest {
    static final String PASSWORD = "correct horse battery staple";
    static Silo silo;
    static TestingHttp http;
    static Tenant acme;
    static Tenant globex;
    static TestingHttp acmeAdmin;
    static TestingHttp acmeMember;
    static String acmeMemberToken;
    static TestingHttp globexAdmin;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        http = new TestingHttp(silo.baseUri());
        acme = silo.tenants().create("rec-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(), Actor.SYSTEM);
        globex = silo.tenants().create("rec-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(), Actor.SYSTEM);
        TestingHttp operator = http.withBearer(TestingSilo.operatorKey(silo));
        for (Tenant tenant : new Tenant[] {acme, globex}) {
            var admin = operator.post("/admin/tenants/" + tenant.slug() + "/admins",
                    "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
            assertThat(admin.status()).as(admin.body()).isEqualTo(201);
        }
        acmeAdmin = login(acme, "admin@example.com");
        globexAdmin = login(globex, "admin@example.com");
        var member = acmeAdmin.post("/t/" + acme.slug() + "/users",
                "{\"email\":\"member@example.com\",\"role\":\"member\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(member.status()).as(member.body()).isEqualTo(201);
        var memberLogin = http.post("/t/" + acme.slug() + "/auth/login",
                "{\"email\":\"member@example.com\",\"password\":\"" + PASSWORD + "\"}");
        acmeMemberToken = memberLogin.json().get("access_token").asText();
        acmeMember = http.withBearer(acmeMemberToken);
    }

    static TestingHttp login(Tenant tenant, String email) {
        var response = http.post("/t/" + tenant.slug() + "/auth/login",
                "{\"email\":\"" + email + "\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        return http.withBearer(response.json().get("access_token").asText());
    }

    static String unique(String prefix) {
        return prefix + "_" + UUID.randomUUID().toString().replace("-", "").substring(0, 10);
    }

    static String base(Tenant tenant) {
        return "/t/" + tenant.slug();
    }

    static TestingHttp.Response put(TestingHttp client, String path, String json, String ifMatch) {
        HttpRequest.Builder request = client.request(path).header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString(json));
        if (ifMatch != null) {
            request.header("If-Match", ifMatch);
        }
        return client.send(request.build());
    }

    static TestingHttp.Response patch(TestingHttp client, String path, String json, String ifMatch) {
        HttpRequest.Builder request = client.request(path).header("Content-Type", RecordRoutes.MERGE_PATCH)
                .method("PATCH", HttpRequest.BodyPublishers.ofString(json));
        if (ifMatch != null) {
            request.header("If-Match", ifMatch);
        }
        return client.send(request.build());
    }

    static TestingHttp.Response delete(TestingHttp client, String path, String ifMatch) {
        HttpRequest.Builder request = client.request(path).DELETE();
        if (ifMatch != null) {
            request.header("If-Match", ifMatch);
        }
        return client.send(request.build());
    }

    static String collection(Tenant tenant, TestingHttp admin, String prefix, String schema) {
        String name = unique(prefix);
        var created = put(admin, base(tenant) + "/collections/" + name, schema, null);
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        return name;
    }

    static JsonNode create(TestingHttp client, Tenant tenant, String collection, String json) {
        var created = client.post(base(tenant) + "/collections/" + collection + "/records", json);
        assertThat(created.status()).as(created.body()).isEqualTo(201);
        assertThat(created.header("ETag")).isEqualTo("\"1\"");
        return created.json();
    }

    static String q(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    static void assertProblem(TestingHttp.Response response, int status, String type) {
        assertThat(response.status()).as(response.body()).isEqualTo(status);
        assertThat(response.contentType()).isEqualTo("application/problem+json");
        assertThat(response.json().get("type").asText()).as(response.body()).isEqualTo("https://silo.dev/problems/" + type);
    }

    static final String BOOKS = """
            {"fields": {"title": {"type": "string", "required": true}, "pages": {"type": "integer"},
             "price": {"type": "number"}, "published": {"type": "timestamp"}, "tags": {"type": "array"},
             "meta": {"type": "object"}, "available": {"type": "boolean"}, "isbn": {"type": "string", "encrypted": true}}}
            """;

    @Test
    void fullCrudRoundTrip() {
        String books = collection(acme, acmeAdmin, "books", BOOKS);
        String path = base(acme) + "/collections/" + books + "/records";
        JsonNode created = create(acmeMember, acme, books, """
                {"title": "Dune", "pages": 412, "price": 9.99, "published": "1965-08-01T00:00:00Z", "tags": ["sf"],
                 "meta": {"a": {"b": 1}}, "available": true, "isbn": "978-0441013593"}""");
        String id = created.get("id").asText();
        assertThat(UUID.fromString(id).version()).isEqualTo(7);
        assertThat(created.get("version").asLong()).isEqualTo(1);
        assertThat(created.get("created_by").asText()).isEqualTo(created.get("updated_by").asText());

        var read = acmeMember.get(path + "/" + id);
        assertThat(read.status()).isEqualTo(200);
        assertThat(read.header("ETag")).isEqualTo("\"1\"");
        assertThat(read.json().get("data")).isEqualTo(created.get("data"));
        assertThat(read.json().get("data").get("isbn").asText()).isEqualTo("978-0441013593");
        assertThat(read.json().get("data").get("price").decimalValue()).isEqualByComparingTo("9.99");

        var replaced = put(acmeMember, path + "/" + id, "{\"title\": \"Dune Messiah\", \"pages\": 256}", "\"1\"");
        assertThat(replaced.status()).as(replaced.body()).isEqualTo(200);
        assertThat(replaced.header("ETag")).isEqualTo("\"2\"");
        assertThat(replaced.json().get("data").size()).isEqualTo(2);
        assertThat(replaced.json().get("created_at").asText()).isEqualTo(created.get("created_at").asText());

        var listed = acmeMember.get(path);
        assertThat(listed.json().get("records")).hasSize(1);
        assertThat(listed.json().get("records").get(0).get("data").get("title").asText()).isEqualTo("Dune Messiah");

        assertProblem(delete(acmeMember, path + "/" + id, "\"1\""), 412, "precondition-failed");
        assertThat(delete(acmeMember, path + "/" + id, "\"2\"").status()).isEqualTo(204);
        assertProblem(acmeMember.get(path + "/" + id), 404, "record-not-found");
        assertProblem(delete(acmeMember, path + "/" + id, "\"2\""), 404, "record-not-found");

        var collections = acmeMember.get(base(acme) + "/collections");
        assertThat(collections.json().get("collections").findValuesAsText("name")).contains(books);
        var definition = acmeMember.get(base(acme) + "/collections/" + books);
        assertThat(definition.json().get("schema").get("fields").get("isbn").get("encrypted").asBoolean()).isTrue();
    }

    @Test
    void mergePatchFollowsRfc7396AndWritesAreConditional() throws Exception {
        String notes = collection(acme, acmeAdmin, "notes", "");
        String path = base(acme) + "/collections/" + notes + "/records";
        String id = create(acmeMember, acme, notes, """
                {"title": "a", "author": {"given": "Ann", "family": "Lee"}, "tags": ["x", "y"], "gone": 1}""").get("id").asText();
        var patched = patch(acmeMember, path + "/" + id, """
                {"title": "b", "author": {"family": null, "nick": "al"}, "tags": ["z"], "gone": null, "new": {"k": null}}""", "\"1\"");
        assertThat(patched.status()).as(patched.body()).isEqualTo(200);
        assertThat(patched.header("ETag")).isEqualTo("\"2\"");
        assertThat(patched.json().get("data")).isEqualTo(dev.silo.platform.http.Json.MAPPER.readTree(
                "{\"title\":\"b\",\"author\":{\"given\":\"Ann\",\"nick\":\"al\"},\"tags\":[\"z\"],\"new\":{}}"));
        assertThat(acmeMember.get(path + "/" + id).json().get("data")).isEqualTo(patched.json().get("data"));

        assertProblem(patch(acmeMember, path + "/" + id, "{\"title\": \"c\"}", null), 428, "precondition-required");
        assertProblem(patch(acmeMember, path + "/" + id, "{\"title\": \"c\"}", "*"), 428, "precondition-required");
        assertProblem(patch(acmeMember, path + "/" + id, "{\"title\": \"c\"}", "\"1\""), 412, "precondition-failed");
        assertProblem(patch(acmeMember, path + "/" + id, "{\"title\": \"c\"}", "W/\"2\""), 412, "precondition-failed");
        assertProblem(patch(acmeMember, path + "/" + id, "{\"title\": \"c\"}", "garbage"), 400, "invalid-if-match");
        assertProblem(put(acmeMember, path + "/" + id, "{\"title\": \"c\"}", null), 428, "precondition-required");
        assertProblem(delete(acmeMember, path + "/" + id, null), 428, "precondition-required");
        var wrongType = acmeMember.send(acmeMember.request(path + "/" + id).header("Content-Type", "application/json")
                .header("If-Match", "\"2\"").method("PATCH", HttpRequest.BodyPublishers.ofString("{}")).build());
        assertProblem(wrongType, 415, "unsupported-media-type");
        assertProblem(patch(acmeMember, path + "/" + id, "[1]", "\"2\""), 400, "invalid-request");
        assertThat(patch(acmeMember, path + "/" + id, "{\"title\": \"c\"}", "\"1\", \"2\"").header("ETag")).isEqualTo("\"3\"");
    }

    @Test
    void schemaIsEnforcedAndChangesThatRecordsViolateAreRefusedWithACount() {
        String books = collection(acme, acmeAdmin, "books", BOOKS);
        String path = base(acme) + "/collections/" + books + "/records";
        assertProblem(acmeMember.post(path, "{\"pages\": 3}"), 400, "schema-violation");
        assertProblem(acmeMember.post(path, "{\"title\": 3}"), 400, "schema-violation");
        assertProblem(acmeMember.post(path, "{\"title\": \"t\", \"pages\": 1.5}"), 400, "schema-violation");
        assertProblem(acmeMember.post(path, "{\"title\": \"t\", \"published\": \"yesterday\"}"), 400, "schema-violation");
        assertProblem(acmeMember.post(path, "{\"title\": \"t\", \"unknown\": 1}"), 400, "schema-violation");
        assertProblem(acmeMember.post(path, "{\"title\": null}"), 400, "schema-violation");
        create(acmeMember, acme, books, "{\"title\": \"one\", \"pages\": 10}");
        create(acmeMember, acme, books, "{\"title\": \"two\", \"pages\": 20}");
        create(acmeMember, acme, books, "{\"title\": \"three\"}");

        var refused = put(acmeAdmin, base(acme) + "/collections/" + books,
                BOOKS.replace("\"pages\": {\"type\": \"integer\"}", "\"pages\": {\"type\": \"string\"}"), null);
        assertProblem(refused, 409, "schema-conflict");
        assertThat(refused.json().get("records_in_the_way").asLong()).isEqualTo(2);
        assertThat(refused.json().get("detail").asText()).contains("2 existing record(s)");
        var required = put(acmeAdmin, base(acme) + "/collections/" + books,
                BOOKS.replace("\"pages\": {\"type\": \"integer\"}", "\"pages\": {\"type\": \"integer\", \"required\": true}"), null);
        assertThat(required.json().get("records_in_the_way").asLong()).isEqualTo(1);
        var encrypt = put(acmeAdmin, base(acme) + "/collections/" + books,
                BOOKS.replace("\"pages\": {\"type\": \"integer\"}", "\"pages\": {\"type\": \"integer\", \"encrypted\": true}"), null);
        assertThat(encrypt.json().get("records_in_the_way").asLong()).isEqualTo(2);
        var widened = put(acmeAdmin, base(acme) + "/collections/" + books,
                BOOKS.replace("\"pages\": {\"type\": \"integer\"}", "\"pages\": {\"type\": \"number\"}"), null);
        assertThat(widened.status()).as(widened.body()).isEqualTo(200);

        assertProblem(put(acmeMember, base(acme) + "/collections/" + books, BOOKS, null), 403, "forbidden");
        assertProblem(acmeMember.delete(base(acme) + "/collections/" + books), 403, "forbidden");
        var notEmpty = acmeAdmin.delete(base(acme) + "/collections/" + books);
        assertProblem(notEmpty, 409, "collection-not-empty");
        assertThat(notEmpty.json().get("records").asLong()).isEqualTo(3);
        assertThat(acmeAdmin.delete(base(acme) + "/collections/" + books + "?force=true").status()).isEqualTo(204);
        assertProblem(acmeMember.get(path), 404, "collection-not-found");
        assertProblem(acmeMember.get(base(acme) + "/collections/" + books), 404, "collection-not-found");
    }

    @Test
    void badInputIsAProblemNamingTheCauseNeverA500() throws Exception {
        String books = collection(acme, acmeAdmin, "books", BOOKS);
        String path = base(acme) + "/collections/" + books + "/records";
        assertProblem(acmeMember.post(path, "{\"title\": "), 400, "malformed-json");
        assertProblem(acmeMember.post(path, ""), 400, "malformed-json");
        assertProblem(acmeMember.post(path, "[1, 2]"), 400, "invalid-request");
        assertProblem(acmeMember.post(path, "\"text\""), 400, "invalid-request");
        assertProblem(acmeMember.post(path, "{\"title\": \"a\", \"title\": \"b\"}"), 400, "malformed-json");
        assertProblem(acmeMember.post(path, "{\"title\": \"a\\u0000b\"}"), 400, "invalid-string");
        assertProblem(acmeMember.post(path, "{\"title\": \"a\\ud800\"}"), 400, "invalid-string");
        assertProblem(acmeMember.post(path, "{\"title\": \"a\", \"price\": 1e999999999}"), 400, "number-out-of-range");
        // found by PublicRoutesFuzzTest: an exponent past Integer.MAX_VALUE overflowed the digit count, then PostgreSQL refused it
        assertProblem(acmeMember.post(path, "{\"title\": \"a\", \"price\": 1e2147483648}"), 400, "number-out-of-range");
        assertProblem(acmeMember.post(path, "{\"title\": \"a\", \"meta\": {\"x\": [-1E+2147483648]}}"), 400, "number-out-of-range");
        assertProblem(acmeMember.get(path + "?" + q("filter[price]") + "=1e2147483648"), 400, "number-out-of-range");
        assertProblem(acmeMember.post(path, "{\"title\": \"a\", \"meta\": " + "{\"a\":".repeat(40) + "1" + "}".repeat(41)),
                400, "malformed-json");
        String schemaless = collection(acme, acmeAdmin, "loose", "");
        StringBuilder wide = new StringBuilder("{");
        for (int i = 0; i <= 1000; i++) {
            wide.append(i == 0 ? "" : ",").append("\"f").append(i).append("\":").append(i);
        }
        assertProblem(acmeMember.post(base(acme) + "/collections/" + schemaless + "/records", wide + "}"), 400, "too-many-fields");
        assertProblem(acmeMember.post(base(acme) + "/collections/" + schemaless + "/records", "{\"k\": \"\\u0000\"}"),
                400, "invalid-string");
        assertProblem(acmeMember.get(base(acme) + "/collections/" + schemaless + "/records?" + q("filter[k\u0000]") + "=1"),
                400, "invalid-string");
        assertProblem(acmeMember.get(base(acme) + "/collections/" + schemaless + "/records?" + q("filter[k]") + "=%00"),
                400, "invalid-string");
        assertProblem(acmeMember.get(path + "?" + q("filter[title]") + "=%00"), 400, "invalid-string");
        assertProblem(acmeMember.get(path + "?sort=%00"), 400, "invalid-sort");
        assertProblem(acmeMember.get(path + "?cursor=%00"), 400, "invalid-cursor");
        assertProblem(acmeMember.post(base(acme) + "/collections/" + schemaless + "/records", "{\"k\": 1e-999999999}"),
                400, "number-out-of-range");
        // a raw socket: a client still streaming the body may see the connection closed before it reads the answer
        try (var socket = new java.net.Socket("127.0.0.1", silo.port())) {
            socket.getOutputStream().write(("POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Authorization: Bearer " + acmeMemberToken + "\r\nContent-Length: " + (1024 * 1024 + 1) + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            socket.setSoTimeout(5000);
            String answer = new String(socket.getInputStream().readNBytes(4000), StandardCharsets.UTF_8);
            assertThat(answer).startsWith("HTTP/1.1 413").contains("payload-too-large");
        }

        assertProblem(acmeMember.post(base(acme) + "/collections/nope_" + UUID.randomUUID().toString().substring(0, 8)
                + "/records", "{}"), 404, "collection-not-found");
        assertProblem(acmeMember.get(path + "/not-a-uuid"), 404, "record-not-found");
        assertProblem(acmeMember.get(path + "/" + UUID.randomUUID()), 404, "record-not-found");
        assertProblem(acmeMember.get(path + "?" + q("filter[nope]") + "=1"), 400, "invalid-filter");
        assertProblem(acmeMember.get(path + "?" + q("filter[isbn]") + "=1"), 400, "invalid-filter");
        assertThat(acmeMember.get(path + "?" + q("filter[isbn]") + "=1").json().get("detail").asText()).contains("encrypted");
        assertProblem(acmeMember.get(path + "?" + q("filter[pages]") + "=ten"), 400, "invalid-filter");
        assertProblem(acmeMember.get(path + "?" + q("filter[available]") + "=yes"), 400, "invalid-filter");
        assertProblem(acmeMember.get(path + "?sort=isbn"), 400, "invalid-sort");
        assertProblem(acmeMember.get(path + "?sort=meta"), 400, "invalid-sort");
        assertProblem(acmeMember.get(path + "?sort=nope"), 400, "invalid-sort");
        assertProblem(acmeMember.get(path + "?cursor=abc"), 400, "invalid-cursor");
        assertProblem(acmeMember.get(path + "?cursor=" + "A".repeat(2000)), 400, "invalid-cursor");
        assertProblem(acmeMember.get(path + "?limit=0"), 400, "invalid-parameter");
        assertProblem(acmeMember.get(path + "?limit=1001"), 400, "invalid-parameter");
        assertProblem(acmeMember.get(path + "?limit=x"), 400, "invalid-parameter");
        assertProblem(acmeMember.get(path + "?fliter=1"), 400, "invalid-parameter");
        assertProblem(put(acmeAdmin, base(acme) + "/collections/Bad-Name", "", null), 400, "invalid-collection-name");
        assertProblem(put(acmeAdmin, base(acme) + "/collections/" + books, "{\"fields\": {\"x\": {\"type\": \"uuid\"}}}", null),
                400, "invalid-schema");
        assertProblem(put(acmeAdmin, base(acme) + "/collections/" + books, "{\"fields\": {\"x\": {}}}", null), 400, "invalid-schema");
        assertProblem(put(acmeAdmin, base(acme) + "/collections/" + books, "{\"fieldz\": {}}", null), 400, "invalid-schema");
        assertProblem(put(acmeAdmin, base(acme) + "/collections/" + books,
                "{\"fields\": {\"x\": {\"type\": \"string\", \"encrypted\": \"yes\"}}}", null), 400, "invalid-schema");
    }

    @Test
    void filtersAndSortsOnDeclaredFields() {
        String books = collection(acme, acmeAdmin, "books", BOOKS);
        String path = base(acme) + "/collections/" + books + "/records";
        create(acmeMember, acme, books, "{\"title\": \"b\", \"pages\": 2, \"available\": true, \"tags\": [\"x\"]}");
        create(acmeMember, acme, books, "{\"title\": \"a\", \"pages\": 3, \"available\": false}");
        create(acmeMember, acme, books, "{\"title\": \"c\", \"pages\": 1, \"available\": true, \"price\": 10.5}");
        create(acmeMember, acme, books, "{\"title\": \"d\"}");
        assertThat(titles(acmeMember.get(path + "?sort=title"))).containsExactly("a", "b", "c", "d");
        assertThat(titles(acmeMember.get(path + "?sort=-pages"))).containsExactly("a", "b", "c", "d");
        assertThat(titles(acmeMember.get(path + "?sort=-created_at"))).containsExactly("d", "c", "a", "b");
        assertThat(titles(acmeMember.get(path + "?sort=updated_at"))).containsExactly("b", "a", "c", "d");
        assertThat(titles(acmeMember.get(path + "?sort=title&" + q("filter[available]") + "=true"))).containsExactly("b", "c");
        assertThat(titles(acmeMember.get(path + "?" + q("filter[pages]") + "=3"))).containsExactly("a");
        assertThat(titles(acmeMember.get(path + "?" + q("filter[price]") + "=10.50"))).containsExactly("c");
        assertThat(titles(acmeMember.get(path + "?" + q("filter[tags]") + "=" + q("[\"x\"]")))).containsExactly("b");
        assertThat(titles(acmeMember.get(path + "?" + q("filter[title]") + "=a&" + q("filter[pages]") + "=2"))).isEmpty();
        List<String> paged = new ArrayList<>();
        String cursor = null;
        do {
            var page = acmeMember.get(path + "?sort=-pages&limit=1" + (cursor == null ? "" : "&cursor=" + cursor));
            assertThat(page.status()).as(page.body()).isEqualTo(200);
            paged.addAll(titles(page));
            cursor = page.json().get("next_cursor").isNull() ? null : page.json().get("next_cursor").asText();
            if (cursor != null) {
                assertProblem(acmeMember.get(path + "?sort=title&cursor=" + cursor), 400, "invalid-cursor");
            }
        } while (cursor != null);
        assertThat(paged).containsExactly("a", "b", "c", "d");
    }

    @Test
    void timestampFieldsSortAndFilterAsInstantsWhateverTheirOffsetOrPrecision() {
        String books = collection(acme, acmeAdmin, "books", BOOKS);
        String path = base(acme) + "/collections/" + books + "/records";
        // As text these sort e, c, b, a, d; as instants: d (none), a, b, c, e.
        create(acmeMember, acme, books, "{\"title\": \"a\", \"published\": \"2026-01-31T13:00:00+01:00\"}"); // 12:00Z
        create(acmeMember, acme, books, "{\"title\": \"b\", \"published\": \"2026-01-31T12:00:00.5Z\"}");
        create(acmeMember, acme, books, "{\"title\": \"c\", \"published\": \"2026-01-31t12:00:01z\"}");
        create(acmeMember, acme, books, "{\"title\": \"d\"}");
        create(acmeMember, acme, books, "{\"title\": \"e\", \"published\": \"2026-01-31T11:30:00-01:00\"}"); // 12:30Z
        assertThat(titles(acmeMember.get(path + "?sort=published"))).containsExactly("d", "a", "b", "c", "e");
        assertThat(titles(acmeMember.get(path + "?sort=-published"))).containsExactly("e", "c", "b", "a", "d");
        // Pages of one follow the same order, each record once.
        for (String sort : List.of("published", "-published")) {
            List<String> paged = new ArrayList<>();
            String cursor = null;
            do {
                var page = acmeMember.get(path + "?sort=" + sort + "&limit=1" + (cursor == null ? "" : "&cursor=" + cursor));
                paged.addAll(titles(page));
                cursor = page.json().get("next_cursor").isNull() ? null : page.json().get("next_cursor").asText();
            } while (cursor != null);
            assertThat(paged).as(sort).containsExactlyElementsOf(titles(acmeMember.get(path + "?sort=" + sort)));
        }
        // The same instant written another way matches; the value comes back as it was written.
        var found = acmeMember.get(path + "?" + q("filter[published]") + "=" + q("2026-01-31T12:00:00Z"));
        assertThat(titles(found)).containsExactly("a");
        assertThat(found.json().get("records").get(0).get("data").get("published").asText()).isEqualTo("2026-01-31T13:00:00+01:00");
        assertThat(titles(acmeMember.get(path + "?" + q("filter[published]") + "=" + q("2026-01-31T12:30:00.000+00:00"))))
                .containsExactly("e");
        assertProblem(acmeMember.get(path + "?" + q("filter[published]") + "=yesterday"), 400, "invalid-filter");
        assertProblem(acmeMember.get(path + "?" + q("filter[published]") + "=" + q("2026-01-31T12:00:00+16:00")), 400,
                "invalid-filter");
        assertThat(titles(acmeMember.get(path + "?" + q("filter[published]") + "=" + q("2026-01-31T21:59:00+15:59"))))
                .isEmpty();
        // A value an older release let in (offset past 15:59) sorts as missing instead of failing the listing.
        silo.core().tenantDatabases().inTransaction(acme, connection -> {
            try (var statement = connection.prepareStatement(
                    "UPDATE records SET data = jsonb_set(data, '{published}', '\"2026-01-31T12:00:00+16:00\"') "
                            + "WHERE collection = ? AND data ->> 'title' = 'c'")) {
                statement.setString(1, books);
                assertThat(statement.executeUpdate()).isEqualTo(1);
            }
            return null;
        });
        assertThat(titles(acmeMember.get(path + "?sort=published"))).containsExactly("c", "d", "a", "b", "e");
        // Shapes RFC 3339 does not allow are refused on write, so every stored timestamp has an instant.
        for (String bad : List.of("+12026-01-31T12:00:00Z", "2026-01-31T12:00:00+01:00:30", "2026-01-31T12:00Z",
                "2026-02-30T12:00:00Z", "0000-01-01T00:00:00Z", "2026-01-31 12:00:00Z", "2026-01-31T12:00:00",
                "2026-01-31T12:00:00+16:00", "2026-01-31T12:00:00-18:00", "2026-01-31T12:00:00+05:60")) {
            var refused = acmeMember.post(path, "{\"title\": \"x\", \"published\": \"" + bad + "\"}");
            assertThat(refused.status()).as(bad).isEqualTo(400);
        }
    }

    static List<String> titles(TestingHttp.Response response) {
        assertThat(response.status()).as(response.body()).isEqualTo(200);
        List<String> titles = new ArrayList<>();
        response.json().get("records").forEach(record -> titles.add(record.get("data").get("title").asText()));
        return titles;
    }

    @Test
    void tokenOfAnotherTenantCannotReadListUpdateOrDeleteItsRecords() {
        String secrets = collection(globex, globexAdmin, "secrets", "");
        String id = create(globexAdmin, globex, secrets, "{\"plan\": \"world domination\"}").get("id").asText();
        String globexPath = base(globex) + "/collections/" + secrets + "/records";
        // acme's token on globex's routes: refused before any data access
        assertThat(acmeAdmin.get(globexPath + "/" + id).status()).isEqualTo(401);
        assertThat(acmeAdmin.get(globexPath).status()).isEqualTo(401);
        assertThat(put(acmeAdmin, globexPath + "/" + id, "{}", "\"1\"").status()).isEqualTo(401);
        assertThat(patch(acmeAdmin, globexPath + "/" + id, "{}", "\"1\"").status()).isEqualTo(401);
        assertThat(delete(acmeAdmin, globexPath + "/" + id, "\"1\"").status()).isEqualTo(401);
        assertThat(acmeAdmin.get(base(globex) + "/export").status()).isEqualTo(401);
        // globex's ids on acme's own routes: acme's database has no such collection or record
        String acmePath = base(acme) + "/collections/" + secrets + "/records";
        assertProblem(acmeAdmin.get(acmePath + "/" + id), 404, "collection-not-found");
        put(acmeAdmin, base(acme) + "/collections/" + secrets, "", null);
        assertProblem(acmeAdmin.get(acmePath + "/" + id), 404, "record-not-found");
        assertProblem(put(acmeAdmin, acmePath + "/" + id, "{}", "\"1\""), 404, "record-not-found");
        assertProblem(patch(acmeAdmin, acmePath + "/" + id, "{}", "\"1\""), 404, "record-not-found");
        assertProblem(delete(acmeAdmin, acmePath + "/" + id, "\"1\""), 404, "record-not-found");
        assertThat(acmeAdmin.get(acmePath).json().get("records")).isEmpty();
        assertThat(acmeAdmin.get(base(acme) + "/export").body()).doesNotContain("world domination");
        var unchanged = globexAdmin.get(globexPath + "/" + id);
        assertThat(unchanged.header("ETag")).isEqualTo("\"1\"");
        assertThat(unchanged.json().get("data").get("plan").asText()).isEqualTo("world domination");
    }

    @Test
    void sqlInjectionInCollectionNamesFiltersSortAndCursorIsHarmless() throws Exception {
        String books = collection(acme, acmeAdmin, "books", BOOKS);
        String loose = collection(acme, acmeAdmin, "loose", "");
        create(acmeMember, acme, books, "{\"title\": \"kept\"}");
        create(acmeMember, acme, loose, "{\"title\": \"kept\"}");
        long before = countRecords(acme);
        String[] attacks = {"x'; DROP TABLE records; --", "records\"; DELETE FROM records; --", "' OR '1'='1",
                "title') OR 1=1 --", "created_at; DROP TABLE collections", "1); DELETE FROM records WHERE (1=1"};
        for (String attack : attacks) {
            assertProblem(put(acmeAdmin, base(acme) + "/collections/" + q(attack), "", null), 400, "invalid-collection-name");
            assertThat(acmeMember.get(base(acme) + "/collections/" + q(attack) + "/records").status()).isIn(400, 404);
            assertProblem(acmeMember.get(base(acme) + "/collections/" + books + "/records?" + q("filter[" + attack + "]") + "=1"),
                    400, "invalid-filter");
            assertProblem(acmeMember.get(base(acme) + "/collections/" + books + "/records?sort=" + q(attack)), 400, "invalid-sort");
            assertProblem(acmeMember.get(base(acme) + "/collections/" + books + "/records?cursor=" + q(attack)), 400, "invalid-cursor");
            // schemaless: the field name and the value are bound parameters, so the attack is just a key that matches nothing
            var harmless = acmeMember.get(base(acme) + "/collections/" + loose + "/records?" + q("filter[" + attack + "]") + "="
                    + q(attack));
            assertThat(harmless.status()).as(harmless.body()).isEqualTo(200);
            assertThat(harmless.json().get("records")).isEmpty();
            var title = acmeMember.get(base(acme) + "/collections/" + books + "/records?" + q("filter[title]") + "=" + q(attack));
            assertThat(title.json().get("records")).isEmpty();
            String forged = java.util.Base64.getUrlEncoder().encodeToString(
                    ("{\"s\":\"created_at\",\"k\":\"" + attack + "\",\"i\":\"" + UUID.randomUUID() + "\"}").getBytes(StandardCharsets.UTF_8));
            assertProblem(acmeMember.get(base(acme) + "/collections/" + books + "/records?cursor=" + forged), 400, "invalid-cursor");
            String forgedField = java.util.Base64.getUrlEncoder().encodeToString(
                    ("{\"s\":\"title\",\"k\":\"" + attack.replace("\"", "\\\"") + "\",\"i\":\"" + UUID.randomUUID() + "\"}")
                            .getBytes(StandardCharsets.UTF_8));
            assertProblem(acmeMember.get(base(acme) + "/collections/" + books + "/records?sort=title&cursor=" + forgedField), 400,
                    "invalid-cursor");
        }
        assertThat(countRecords(acme)).isEqualTo(before);
        assertThat(acmeMember.get(base(acme) + "/collections/" + books + "/records").json().get("records")).hasSize(1);
    }

    /** A page of one from {@code path} (with its query), and the cursor to the next page. */
    static String cursorOf(TestingHttp client, String pathAndQuery) {
        var page = client.get(pathAndQuery);
        assertThat(page.status()).as(page.body()).isEqualTo(200);
        assertThat(page.json().get("next_cursor").isTextual()).as(page.body()).isTrue();
        return page.json().get("next_cursor").asText();
    }

    static String unsignedCursor(String sort, String key) {
        return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(("{\"s\":\"" + sort + "\",\"k\":\"" + key
                + "\",\"i\":\"" + UUID.randomUUID() + "\"}").getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void forgedCursorsWithTimesOutOfRangeOrInvalidAre400NotErrors() {
        // issue 11.7: these answered 500 (Timestamp overflow, PostgreSQL's range, a timestamp cast) before cursors were signed
        String books = collection(acme, acmeAdmin, "books", BOOKS);
        String path = base(acme) + "/collections/" + books + "/records";
        create(acmeMember, acme, books, "{\"title\": \"a\", \"published\": \"2026-01-31T12:00:00Z\"}");
        create(acmeMember, acme, books, "{\"title\": \"b\", \"published\": \"2026-02-01T12:00:00Z\"}");
        for (String sort : List.of("created_at", "-created_at", "updated_at")) {
            for (String key : List.of("+1000000000-12-31T23:59:59Z", "-100000-01-01T00:00:00Z", "-1000000000-01-01T00:00:00Z")) {
                assertProblem(acmeMember.get(path + "?sort=" + sort + "&cursor=" + unsignedCursor(sort, key)), 400, "invalid-cursor");
            }
        }
        for (String sort : List.of("published", "-published")) {
            assertProblem(acmeMember.get(path + "?sort=" + sort + "&cursor=" + unsignedCursor(sort, "2026-13-45T99:99:99Z")), 400,
                    "invalid-cursor");
            // the same forgery with a tag appended from a genuine cursor of this very listing
            String genuine = cursorOf(acmeMember, path + "?sort=" + sort + "&limit=1");
            String forged = unsignedCursor(sort, "2026-13-45T99:99:99Z") + genuine.substring(genuine.indexOf('.'));
            assertProblem(acmeMember.get(path + "?sort=" + sort + "&cursor=" + forged), 400, "invalid-cursor");
        }
    }

    @Test
    void aCursorAlteredInAnyCharacterOrMovedToAnotherCollectionSortOrTenantIsRefused() {
        String books = collection(acme, acmeAdmin, "books", BOOKS);
        String other = collection(acme, acmeAdmin, "books", BOOKS);
        String path = base(acme) + "/collections/" + books + "/records";
        for (String title : List.of("a", "b", "c")) {
            create(acmeMember, acme, books, "{\"title\": \"" + title + "\"}");
            create(acmeMember, acme, other, "{\"title\": \"" + title + "\"}");
        }
        String cursor = cursorOf(acmeMember, path + "?limit=1");
        // the genuine cursor works, and is not readable JSON
        assertThat(titles(acmeMember.get(path + "?limit=1&cursor=" + cursor))).containsExactly("b");
        // every character replaced by another of the alphabet (the last ones too, whose low bits the decoder ignores)
        String alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for (int i = 0; i < cursor.length(); i++) {
            char replacement = alphabet.charAt((alphabet.indexOf(cursor.charAt(i)) + 1 + i % 63) % alphabet.length());
            if (cursor.charAt(i) == '.') {
                replacement = 'A';
            }
            String altered = cursor.substring(0, i) + replacement + cursor.substring(i + 1);
            assertProblem(acmeMember.get(path + "?limit=1&cursor=" + altered), 400, "invalid-cursor");
        }
        assertProblem(acmeMember.get(path + "?limit=1&cursor=" + cursor + "A"), 400, "invalid-cursor");
        assertProblem(acmeMember.get(path + "?limit=1&cursor=" + cursor.substring(0, cursor.length() - 1)), 400, "invalid-cursor");
        assertProblem(acmeMember.get(path + "?limit=1&cursor=" + cursor.replace(".", "")), 400, "invalid-cursor");
        // another collection of the same tenant, with the same sort
        assertProblem(acmeMember.get(base(acme) + "/collections/" + other + "/records?limit=1&cursor=" + cursor), 400,
                "invalid-cursor");
        // another sort of the same collection: refused, and says why
        var otherSort = acmeMember.get(path + "?limit=1&sort=-created_at&cursor=" + cursor);
        assertProblem(otherSort, 400, "invalid-cursor");
        assertThat(otherSort.json().get("detail").asText()).contains("sorted by 'created_at'");
        // another tenant, with a collection of the same name
        put(globexAdmin, base(globex) + "/collections/" + books, BOOKS, null);
        create(globexAdmin, globex, books, "{\"title\": \"x\"}");
        assertProblem(globexAdmin.get(base(globex) + "/collections/" + books + "/records?limit=1&cursor=" + cursor), 400,
                "invalid-cursor");
    }

    @Test
    void cursorsOnEveryKindOfSortKeyWalkTheWholeListing() {
        String books = collection(acme, acmeAdmin, "books", BOOKS);
        String path = base(acme) + "/collections/" + books + "/records";
        create(acmeMember, acme, books, "{\"title\": \"a\", \"pages\": 3, \"price\": 1.50, \"available\": true, "
                + "\"published\": \"2026-01-31T12:00:00Z\"}");
        create(acmeMember, acme, books, "{\"title\": \"b \\u00e9 \\\" \\\\\", \"pages\": 1, \"price\": 1e-3}");
        create(acmeMember, acme, books, "{\"title\": \"c\", \"pages\": 2, \"available\": false, "
                + "\"published\": \"0001-01-01T00:00:00+15:59\"}");
        for (String sort : List.of("created_at", "-updated_at", "title", "-pages", "price", "-available", "published", "-published")) {
            List<String> paged = new ArrayList<>();
            String cursor = null;
            do {
                var page = acmeMember.get(path + "?sort=" + sort + "&limit=1" + (cursor == null ? "" : "&cursor=" + cursor));
                paged.addAll(titles(page));
                cursor = page.json().get("next_cursor").isNull() ? null : page.json().get("next_cursor").asText();
            } while (cursor != null);
            assertThat(paged).as(sort).containsExactlyElementsOf(titles(acmeMember.get(path + "?sort=" + sort)));
        }
    }

    static long countRecords(Tenant tenant) {
        return silo.core().tenantDatabases().withConnection(tenant, connection -> {
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT (SELECT count(*) FROM records) + (SELECT count(*) FROM collections)");
                 ResultSet rs = select.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        });
    }

    @Test
    void aTenantDatabaseFromBeforeTheRecordsTablesIsMigratedOnFirstUse() {
        Tenant old = silo.tenants().create("rec-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(),
                Actor.SYSTEM);
        var admin = http.withBearer(TestingSilo.operatorKey(silo)).post("/admin/tenants/" + old.slug() + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + PASSWORD + "\"}");
        assertThat(admin.status()).as(admin.body()).isEqualTo(201);
        // as a tenant provisioned by a release without the records tables would be
        silo.core().tenantDatabases().inTransaction(old, connection -> {
            try (var statement = connection.createStatement()) {
                statement.execute("DROP TABLE records, collections");
                statement.execute("DROP FUNCTION silo_timestamp(text)");
                statement.execute("DELETE FROM flyway_schema_history WHERE version::int >= 2");
            }
            return null;
        });
        TestingHttp client = login(old, "admin@example.com");
        var collections = client.get(base(old) + "/collections");
        assertThat(collections.status()).as(collections.body()).isEqualTo(200);
        assertThat(put(client, base(old) + "/collections/" + unique("late"), "", null).status()).isEqualTo(201);
    }

    @Test
    void aTenantDatabaseFromBeforeTimestampSortKeysIsMigratedOnFirstUse() {
        String books = collection(acme, acmeAdmin, "books", BOOKS);
        String path = base(acme) + "/collections/" + books + "/records";
        create(acmeMember, acme, books, "{\"title\": \"a\", \"published\": \"2026-01-31T12:00:00Z\"}");
        // as a tenant migrated by the release before silo_timestamp would be
        silo.core().tenantDatabases().inTransaction(acme, connection -> {
            try (var statement = connection.createStatement()) {
                statement.execute("DROP FUNCTION silo_timestamp(text)");
                statement.execute("DELETE FROM flyway_schema_history WHERE version::int >= 3");
            }
            return null;
        });
        assertThat(titles(acmeMember.get(path + "?sort=published"))).containsExactly("a");
    }

    @Test
    void memberCannotChangeCollectionsOrExport() {
        assertProblem(put(acmeMember, base(acme) + "/collections/" + unique("m"), "", null), 403, "forbidden");
        assertProblem(acmeMember.get(base(acme) + "/export"), 403, "forbidden");
        assertThat(http.get(base(acme) + "/collections").status()).isEqualTo(401);
    }

    @Test
    void encryptedFieldIsCiphertextInTheDatabaseAndPlaintextThroughTheApi() {
        String people = collection(acme, acmeAdmin, "people", SECRETS);
        String path = base(acme) + "/collections/" + people + "/records";
        String id = create(acmeMember, acme, people, "{\"name\": \"Ann\", \"ssn\": \"123-45-6789\", \"card\": {\"pin\": 1234}}")
                .get("id").asText();
        String raw = rawData(acme, id);
        assertThat(raw).doesNotContain("123-45-6789").doesNotContain("1234").contains("Ann");
        JsonNode stored = readJson(raw);
        byte[] ciphertext = java.util.Base64.getDecoder().decode(stored.get("ssn").asText());
        assertThat(ciphertext.length).isGreaterThan(28);
        var read = acmeMember.get(path + "/" + id);
        assertThat(read.json().get("data").get("ssn").asText()).isEqualTo("123-45-6789");
        assertThat(read.json().get("data").get("card").get("pin").asInt()).isEqualTo(1234);
        assertThat(acmeMember.get(path).json().get("records").get(0).get("data").get("ssn").asText()).isEqualTo("123-45-6789");
        // a merge patch that leaves the encrypted field alone keeps it readable, under a fresh ciphertext
        var patched = patch(acmeMember, path + "/" + id, "{\"name\": \"Annie\"}", "\"1\"");
        assertThat(patched.json().get("data").get("ssn").asText()).isEqualTo("123-45-6789");
        assertThat(readJson(rawData(acme, id)).get("ssn").asText()).isNotEqualTo(stored.get("ssn").asText());
    }

    @Test
    void swappedOrCopiedCiphertextsFailTheirIntegrityCheck() {
        String people = collection(acme, acmeAdmin, "people", SECRETS);
        String path = base(acme) + "/collections/" + people + "/records";
        String first = create(acmeMember, acme, people, "{\"name\": \"Ann\", \"ssn\": \"111-11-1111\"}").get("id").asText();
        String second = create(acmeMember, acme, people, "{\"name\": \"Bob\", \"ssn\": \"222-22-2222\"}").get("id").asText();
        String firstCipher = readJson(rawData(acme, first)).get("ssn").asText();
        String secondCipher = readJson(rawData(acme, second)).get("ssn").asText();
        setField(acme, first, "ssn", secondCipher);
        setField(acme, second, "ssn", firstCipher);
        for (String id : List.of(first, second)) {
            var read = acmeMember.get(path + "/" + id);
            assertProblem(read, 409, "integrity-error");
            assertThat(read.json().get("field").asText()).isEqualTo("ssn");
            assertThat(read.body()).doesNotContain("111-11-1111").doesNotContain("222-22-2222");
        }
        assertProblem(acmeMember.get(path), 409, "integrity-error");
        assertProblem(patch(acmeMember, path + "/" + first, "{\"name\": \"x\"}", "\"1\""), 409, "integrity-error");
        var export = acmeAdmin.get(base(acme) + "/export");
        assertThat(export.status()).isEqualTo(200);
        assertThat(export.body()).contains("\"type\":\"error\"").contains("integrity-error")
                .doesNotContain("111-11-1111").doesNotContain("222-22-2222");
        // a value that is not even a ciphertext is an integrity error too, never garbage
        setField(acme, first, "ssn", "not base64!");
        assertProblem(acmeMember.get(path + "/" + first), 409, "integrity-error");

        // copied into another tenant, under the same collection name and even the same record id: still refused
        put(globexAdmin, base(globex) + "/collections/" + people, SECRETS, null);
        String victim = create(globexAdmin, globex, people, "{\"name\": \"Eve\", \"ssn\": \"999-99-9999\"}").get("id").asText();
        silo.core().tenantDatabases().inTransaction(globex, connection -> {
            try (PreparedStatement update = connection.prepareStatement("UPDATE records SET id = ? WHERE id = ?")) {
                update.setObject(1, UUID.fromString(second));
                update.setObject(2, UUID.fromString(victim));
                update.executeUpdate();
            }
            return null;
        });
        setField(globex, second, "ssn", secondCipher);
        assertProblem(globexAdmin.get(base(globex) + "/collections/" + people + "/records/" + second), 409, "integrity-error");
    }

    static final String SECRETS = """
            {"fields": {"name": {"type": "string", "required": true}, "ssn": {"type": "string", "encrypted": true},
             "card": {"type": "object", "encrypted": true}}}
            """;

    static String rawData(Tenant tenant, String id) {
        return silo.core().tenantDatabases().withConnection(tenant, connection -> {
            try (PreparedStatement select = connection.prepareStatement("SELECT data::text FROM records WHERE id = ?")) {
                select.setObject(1, UUID.fromString(id));
                try (ResultSet rs = select.executeQuery()) {
                    assertThat(rs.next()).isTrue();
                    return rs.getString(1);
                }
            }
        });
    }

    static void setField(Tenant tenant, String id, String field, String value) {
        silo.core().tenantDatabases().inTransaction(tenant, connection -> {
            try (PreparedStatement update = connection.prepareStatement(
                    "UPDATE records SET data = jsonb_set(data, ARRAY[?], to_jsonb(?::text)) WHERE id = ?")) {
                update.setString(1, field);
                update.setString(2, value);
                update.setObject(3, UUID.fromString(id));
                assertThat(update.executeUpdate()).isEqualTo(1);
            }
            return null;
        });
    }

    static JsonNode readJson(String json) {
        try {
            return dev.silo.platform.http.Json.MAPPER.readTree(json);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void paginationWhileEightWritersInsertReturnsEveryRecordExactlyOnce() throws Exception {
        String events = collection(acme, acmeAdmin, "events", "");
        String path = base(acme) + "/collections/" + events + "/records";
        Set<String> before = new HashSet<>();
        for (int i = 0; i < 60; i++) {
            before.add(create(acmeMember, acme, events, "{\"n\": " + i + "}").get("id").asText());
        }
        Set<String> written = java.util.concurrent.ConcurrentHashMap.newKeySet();
        List<Thread> writers = new ArrayList<>();
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        for (int w = 0; w < 8; w++) {
            int writer = w;
            writers.add(Thread.ofVirtual().start(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
                for (int i = 0; i < 25; i++) {
                    var created = acmeMember.post(path, "{\"writer\": " + writer + ", \"i\": " + i + "}");
                    assertThat(created.status()).as(created.body()).isEqualTo(201);
                    written.add(created.json().get("id").asText());
                }
            }));
        }
        go.countDown();
        List<String> ascending = page(path, "created_at");
        List<String> descending = page(path, "-created_at");
        for (Thread writer : writers) {
            writer.join(60_000);
        }
        for (List<String> seen : List.of(ascending, descending)) {
            assertThat(new HashSet<>(seen)).as("no record twice").hasSize(seen.size());
            assertThat(seen).containsAll(before);
            Set<String> all = new HashSet<>(before);
            all.addAll(written);
            assertThat(all).containsAll(seen);
        }
        assertThat(written).hasSize(200);
        List<String> after = page(path, "created_at");
        assertThat(after).hasSize(260).doesNotHaveDuplicates();
        assertThat(page(path, "updated_at")).hasSize(260).doesNotHaveDuplicates();
    }

    static List<String> page(String path, String sort) {
        List<String> seen = new ArrayList<>();
        String cursor = null;
        do {
            var page = acmeMember.get(path + "?limit=7&sort=" + sort + (cursor == null ? "" : "&cursor=" + cursor));
            assertThat(page.status()).as(page.body()).isEqualTo(200);
            page.json().get("records").forEach(record -> seen.add(record.get("id").asText()));
            cursor = page.json().get("next_cursor").isNull() ? null : page.json().get("next_cursor").asText();
        } while (cursor != null);
        return seen;
    }

    @Test
    void eightConcurrentUpdatersLoseNoUpdate() throws Exception {
        String counters = collection(acme, acmeAdmin, "counters", "{\"fields\": {\"count\": {\"type\": \"integer\"}}}");
        String path = base(acme) + "/collections/" + counters + "/records/"
                + create(acmeMember, acme, counters, "{\"count\": 0}").get("id").asText();
        java.util.concurrent.atomic.AtomicInteger successes = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicInteger conflicts = new java.util.concurrent.atomic.AtomicInteger();
        List<Thread> updaters = new ArrayList<>();
        for (int u = 0; u < 8; u++) {
            updaters.add(Thread.ofVirtual().start(() -> {
                for (int i = 0; i < 10; i++) {
                    var read = acmeMember.get(path);
                    long count = read.json().get("data").get("count").asLong();
                    var write = i % 2 == 0
                            ? patch(acmeMember, path, "{\"count\": " + (count + 1) + "}", read.header("ETag"))
                            : put(acmeMember, path, "{\"count\": " + (count + 1) + "}", read.header("ETag"));
                    if (write.status() == 200) {
                        successes.incrementAndGet();
                    } else {
                        assertProblem(write, 412, "precondition-failed");
                        conflicts.incrementAndGet();
                    }
                }
            }));
        }
        for (Thread updater : updaters) {
            updater.join(60_000);
        }
        var last = acmeMember.get(path);
        assertThat(successes.get() + conflicts.get()).isEqualTo(80);
        assertThat(successes.get()).isPositive();
        assertThat(last.json().get("version").asLong()).isEqualTo(1 + successes.get());
        assertThat(last.json().get("data").get("count").asLong()).isEqualTo(successes.get());
    }

    /** Changes a collection's schema behind Silo's back, as another Silo instance would (no cache of this one sees it). */
    static void setSchemaDirectly(Tenant tenant, String collection, String schema) {
        silo.core().tenantDatabases().inTransaction(tenant, connection -> {
            try (PreparedStatement update = connection.prepareStatement(
                    "UPDATE collections SET schema = ?::jsonb, updated_at = now() WHERE name = ?")) {
                update.setString(1, schema);
                update.setString(2, collection);
                assertThat(update.executeUpdate()).isEqualTo(1);
            }
            return null;
        });
    }

    @Test
    void aCreateIsValidatedAgainstTheSchemaInTheDatabaseNotAnOutdatedCopy() {
        String notes = collection(acme, acmeAdmin, "notes", "{\"fields\": {\"n\": {\"type\": \"integer\", \"required\": true}}}");
        String path = base(acme) + "/collections/" + notes + "/records";
        create(acmeMember, acme, notes, "{\"n\": 1}");
        setSchemaDirectly(acme, notes, "{\"fields\": {\"title\": {\"type\": \"string\", \"required\": true}}}");
        // valid only under the new schema: accepted; valid only under the old one: refused
        create(acmeMember, acme, notes, "{\"title\": \"new\"}");
        assertProblem(acmeMember.post(path, "{\"n\": 2}"), 400, "schema-violation");
        // and a collection deleted behind Silo's back is a 404, not a record without a collection
        silo.core().tenantDatabases().inTransaction(acme, connection -> {
            try (PreparedStatement delete = connection.prepareStatement("DELETE FROM collections WHERE name = ?")) {
                delete.setString(1, notes);
                delete.executeUpdate();
            }
            return null;
        });
        assertProblem(acmeMember.post(path, "{\"title\": \"gone\"}"), 404, "collection-not-found");
    }

    @Test
    void aCreateWaitingOnASchemaChangeIsValidatedAgainstTheNewSchema() throws Exception {
        String racing = collection(acme, acmeAdmin, "racing", "");
        String path = base(acme) + "/collections/" + racing + "/records";
        create(acmeMember, acme, racing, "{\"n\": 1}");
        java.util.concurrent.atomic.AtomicReference<TestingHttp.Response> response = new java.util.concurrent.atomic.AtomicReference<>();
        Thread creator = silo.core().tenantDatabases().inTransaction(acme, connection -> {
            // a schema change in progress, as PUT /collections/{name} makes one: the row locked FOR UPDATE and updated
            try (PreparedStatement lock = connection.prepareStatement("SELECT name FROM collections WHERE name = ? FOR UPDATE")) {
                lock.setString(1, racing);
                lock.executeQuery().close();
            }
            try (PreparedStatement update = connection.prepareStatement("UPDATE collections SET schema = ?::jsonb WHERE name = ?")) {
                update.setString(1, "{\"fields\": {\"n\": {\"type\": \"integer\", \"required\": true}}}");
                update.setString(2, racing);
                update.executeUpdate();
            }
            // a create that read the collection while it was still schemaless, and fails the new schema
            Thread started = Thread.ofVirtual().start(() -> response.set(acmeMember.post(path, "{\"title\": \"no n\"}")));
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
            while (!insertWaitsOnALock()) {
                assertThat(System.nanoTime()).as("the create waits for the schema change").isLessThan(deadline);
                java.util.concurrent.locks.LockSupport.parkNanos(java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(10));
            }
            return started;
        });
        creator.join(30_000);
        assertProblem(response.get(), 400, "schema-violation");
        var listing = acmeMember.get(path);
        assertThat(listing.json().get("records")).hasSize(1);
    }

    static boolean insertWaitsOnALock() {
        return silo.core().tenantDatabases().withConnection(acme, connection -> {
            try (PreparedStatement select = connection.prepareStatement("""
                    SELECT count(*) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'
                      AND query LIKE 'INSERT INTO records%'
                    """);
                 ResultSet rs = select.executeQuery()) {
                rs.next();
                return rs.getLong(1) > 0;
            }
        });
    }

    static Set<String> ids(JsonNode records) {
        Set<String> ids = new HashSet<>();
        records.forEach(record -> ids.add(record.get("id").asText()));
        return ids;
    }
}
