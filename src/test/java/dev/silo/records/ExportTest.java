package dev.silo.records;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.silo.app.Silo;
import dev.silo.audit.Actor;
import dev.silo.platform.http.Json;
import dev.silo.tenant.Tenant;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.math.BigDecimal;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.BitSet;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** Claim C15: a tenant's export streams every collection and record, decrypted, in bounded memory. */
class ExportTest {
    private static final int RECORDS = 10_000;
    private static final String SCHEMA = """
            {"fields": {"i": {"type": "integer", "required": true}, "title": {"type": "string"},
             "price": {"type": "number"}, "flag": {"type": "boolean"}, "tags": {"type": "array"},
             "meta": {"type": "object"}, "at": {"type": "timestamp"}, "body": {"type": "string"},
             "secret": {"type": "string", "encrypted": true}, "card": {"type": "object", "encrypted": true}}}
            """;

    static ObjectNode expected(int i) {
        ObjectNode data = JsonNodeFactory.instance.objectNode();
        data.put("i", i);
        data.put("title", "record \u00e9\u6f22 " + i);
        data.put("price", new BigDecimal(i).movePointLeft(2));
        data.put("flag", i % 2 == 0);
        data.putArray("tags").add("t" + (i % 7)).add(i);
        data.putObject("meta").put("depth", i % 3).putObject("inner").put("k", "v" + i);
        data.put("at", "2026-01-01T00:00:00Z");
        // about 1.5 KiB per record, different for every record
        data.put("body", (Integer.toHexString(i * 31 + 7) + "-").repeat(1 + 1500 / 4));
        data.put("secret", "secret-" + i);
        data.putObject("card").put("pin", 1000 + i);
        return data;
    }

    @Test
    void exportOfTenThousandRecordsStreamsInBoundedMemoryAndRoundTripsEveryField() throws Exception {
        Silo silo = TestingSilo.shared();
        TestingHttp http = new TestingHttp(silo.baseUri());
        Tenant tenant = silo.tenants().create("exp-" + UUID.randomUUID().toString().substring(0, 8), null, Optional.empty(),
                Actor.SYSTEM);
        var admin = http.withBearer(TestingSilo.operatorKey(silo)).post("/admin/tenants/" + tenant.slug() + "/admins",
                "{\"email\":\"admin@example.com\",\"password\":\"" + RecordsTest.PASSWORD + "\"}");
        assertThat(admin.status()).as(admin.body()).isEqualTo(201);
        var login = http.post("/t/" + tenant.slug() + "/auth/login",
                "{\"email\":\"admin@example.com\",\"password\":\"" + RecordsTest.PASSWORD + "\"}");
        TestingHttp client = http.withBearer(login.json().get("access_token").asText());
        assertThat(RecordsTest.put(client, "/t/" + tenant.slug() + "/collections/items", SCHEMA, null).status()).isEqualTo(201);
        assertThat(RecordsTest.put(client, "/t/" + tenant.slug() + "/collections/empty", "", null).status()).isEqualTo(201);
        UUID userId = UUID.fromString(client.get("/t/" + tenant.slug() + "/me").json().get("id").asText());

        // insert the records directly, in one batch, sealed exactly as the service seals them
        FieldCipher cipher = new FieldCipher(silo.core().envelope());
        Instant start = Instant.now().truncatedTo(ChronoUnit.MICROS);
        silo.core().tenantDatabases().inTransaction(tenant, connection -> {
            try (PreparedStatement insert = connection.prepareStatement("""
                    INSERT INTO records (id, collection, version, data, created_at, created_by, updated_at, updated_by)
                    VALUES (?, 'items', 1, ?::jsonb, ?, ?, ?, ?)
                    """)) {
                for (int i = 0; i < RECORDS; i++) {
                    Instant at = start.plus(i, ChronoUnit.MICROS);
                    UUID id = RecordIds.v7(at);
                    ObjectNode stored = expected(i);
                    for (String field : new String[] {"secret", "card"}) {
                        stored.put(field, cipher.encrypt(tenant, "items", id, field, stored.get(field)));
                    }
                    insert.setObject(1, id);
                    insert.setString(2, RecordValues.write(stored));
                    insert.setTimestamp(3, Timestamp.from(at));
                    insert.setObject(4, userId);
                    insert.setTimestamp(5, Timestamp.from(at));
                    insert.setObject(6, userId);
                    insert.addBatch();
                    if (i % 1000 == 999) {
                        insert.executeBatch();
                    }
                }
            }
            return null;
        });

        long baseline = usedHeapAfterGc();
        // The heap is the whole suite's: another test's node may hold a transient buffer (a WAL segment is 16 MiB)
        // at any one sample. The least of three samples through the export is what the export itself holds; an
        // export that buffered would show its growth in all three.
        long peak = Long.MAX_VALUE;
        BitSet seen = new BitSet(RECORDS);
        HttpResponse<InputStream> response = HttpClient.newHttpClient().send(client.request("/t/" + tenant.slug() + "/export")
                .GET().build(), HttpResponse.BodyHandlers.ofInputStream());
        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.headers().firstValue("Content-Type")).contains("application/x-ndjson");
        assertThat(response.headers().firstValue("Content-Length")).isEmpty();
        long bytes = 0;
        JsonNode end = null;
        int collections = 0;
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = lines.readLine()) != null) {
                bytes += line.length() + 1;
                JsonNode node = RecordValues.READER.readValue(line);
                assertThat(end).as("nothing after the end line").isNull();
                switch (node.get("type").asText()) {
                    case "collection" -> {
                        assertThat(seen.isEmpty()).as("collections come first").isTrue();
                        collections++;
                        if (node.get("name").asText().equals("items")) {
                            assertThat(node.get("schema")).isEqualTo(Schema.parse(Json.MAPPER.readTree(SCHEMA)).toJson());
                        } else {
                            assertThat(node.get("schema").isNull()).isTrue();
                        }
                    }
                    case "record" -> {
                        int i = node.get("data").get("i").asInt();
                        assertThat(node.get("data")).as("record %d", i).isEqualTo(expected(i));
                        assertThat(node.get("collection").asText()).isEqualTo("items");
                        assertThat(node.get("version").asLong()).isEqualTo(1);
                        assertThat(node.get("created_by").asText()).isEqualTo(userId.toString());
                        assertThat(seen.get(i)).as("record %d twice", i).isFalse();
                        seen.set(i);
                        if (i == RECORDS / 4 || i == RECORDS / 2 || i == 3 * RECORDS / 4) {
                            peak = Math.min(peak, usedHeapAfterGc());
                        }
                    }
                    case "end" -> end = node;
                    default -> throw new AssertionError("unexpected line " + line);
                }
            }
        }
        assertThat(collections).isEqualTo(2);
        assertThat(seen.cardinality()).isEqualTo(RECORDS);
        assertThat(end).isNotNull();
        assertThat(end.get("records").asLong()).isEqualTo(RECORDS);
        assertThat(end.get("errors").asLong()).isZero();
        assertThat(bytes).isGreaterThan(15L * 1024 * 1024);
        // through a 15+ MiB export, the server holds a few pages, not the export
        assertThat(peak).isLessThan(Long.MAX_VALUE);
        assertThat(peak - baseline).as("heap growth in bytes through an export of %d bytes", bytes)
                .isLessThan(8L * 1024 * 1024);
    }

    private static long usedHeapAfterGc() {
        Runtime runtime = Runtime.getRuntime();
        System.gc();
        return runtime.totalMemory() - runtime.freeMemory();
    }
}
