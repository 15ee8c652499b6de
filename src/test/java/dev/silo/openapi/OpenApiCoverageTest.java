package dev.silo.openapi;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Silo;
import dev.silo.platform.http.Routes;
import dev.silo.testing.ApiContract;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpRequest;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The document describes exactly the routes the node registers (the route table from {@link Routes}, not a list
 * kept by hand), and {@code GET /openapi.json} serves it without authentication, cacheable by its ETag.
 */
class OpenApiCoverageTest {
    private static Silo silo;
    private static TestingHttp http;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        http = new TestingHttp(silo.baseUri());
    }

    @AfterAll
    static void stop() {
        silo = null;
        http = null;
    }

    @Test
    void everyRouteIsDescribedAndEveryDescriptionHasARoute() {
        Set<String> registered = new LinkedHashSet<>();
        for (Routes.Route route : silo.routeTable()) {
            if (!OpenApiDocument.undescribed(route.template())) {
                registered.add(route.toString());
            }
        }
        Set<String> described = new LinkedHashSet<>(ApiContract.get().describedOperations());

        Set<String> undescribed = new LinkedHashSet<>(registered);
        undescribed.removeAll(described);
        Set<String> unrouted = new LinkedHashSet<>(described);
        unrouted.removeAll(registered);
        assertThat(undescribed)
                .as("routes registered but not described in src/main/resources/openapi/openapi.yaml (add each under "
                        + "paths:, see the comment at the top of that file)")
                .isEmpty();
        assertThat(unrouted)
                .as("operations described in openapi.yaml that no route answers (remove them, or fix the template)")
                .isEmpty();
        assertThat(registered).contains("GET /openapi.json", "GET /t/{tenant}/me", "POST /admin/tenants");
        assertThat(silo.routeTable()).as("the test hooks are registered, and left out by the prefix rule")
                .contains(new Routes.Route("GET", "/test/boom"));
    }

    @Test
    void theConsolesStaticFilesAndTestHooksAreLeftOutBySegment() {
        assertThat(OpenApiDocument.undescribed("/console")).isTrue();
        assertThat(OpenApiDocument.undescribed("/console/app.js")).isTrue();
        assertThat(OpenApiDocument.undescribed("/t/{tenant}/console/{file}")).isTrue();
        assertThat(OpenApiDocument.undescribed("/t/acme/console/index.html")).isTrue();
        assertThat(OpenApiDocument.undescribed("/test/boom")).isTrue();
        assertThat(OpenApiDocument.undescribed("/consoles")).isFalse();
        assertThat(OpenApiDocument.undescribed("/t/acme/collections/console")).isFalse();
        assertThat(OpenApiDocument.undescribed("/testing")).isFalse();
        assertThat(OpenApiDocument.undescribed("/admin/tenants")).isFalse();
    }

    @Test
    void theDocumentIsServedWithoutAuthenticationAndRevalidatedByItsETag() {
        String slug = "openapi-" + Long.toHexString(System.nanoTime());
        TestingHttp operator = http.withBearer(TestingSilo.operatorKey(silo));
        assertThat(operator.post("/admin/tenants", "{\"slug\":\"" + slug + "\"}").status()).isEqualTo(201);

        long checkedBefore = ApiContract.get().checkedExchanges();
        TestingHttp.Response response = http.get("/openapi.json");
        assertThat(ApiContract.get().checkedExchanges()).as("TestingHttp checks each exchange").isGreaterThan(checkedBefore);
        assertThat(response.status()).isEqualTo(200);
        assertThat(response.contentType()).isEqualTo("application/json");
        JsonNode document = response.json();
        assertThat(document.path("openapi").asText()).startsWith("3.1");
        assertThat(document.path("components").path("securitySchemes").fieldNames()).toIterable()
                .contains("operatorKey", "tenantBearer", "staffGrant", "serviceCredential");
        assertThat(response.body()).as("no tenant data in the description").doesNotContain(slug);
        assertThat(response.header("Cache-Control")).isEqualTo(OpenApiRoutes.CACHE_CONTROL);
        String etag = response.header("ETag");
        assertThat(etag).matches("\"[A-Za-z0-9_-]{22}\"");

        TestingHttp.Response unchanged = http.send(http.request("/openapi.json").header("If-None-Match", etag).GET().build());
        assertThat(unchanged.status()).isEqualTo(304);
        assertThat(unchanged.body()).isEmpty();
        assertThat(unchanged.header("ETag")).isEqualTo(etag);
        TestingHttp.Response weak = http.send(http.request("/openapi.json").header("If-None-Match", "\"other\", W/" + etag)
                .GET().build());
        assertThat(weak.status()).isEqualTo(304);
        TestingHttp.Response stale = http.send(http.request("/openapi.json").header("If-None-Match", "\"other\"").GET().build());
        assertThat(stale.status()).isEqualTo(200);
        assertThat(stale.body()).isEqualTo(response.body());
        TestingHttp.Response head = http.send(http.request("/openapi.json").method("HEAD", HttpRequest.BodyPublishers.noBody())
                .build());
        assertThat(head.status()).isEqualTo(200);
    }

    @Test
    void theContractRefusesWhatTheDocumentDoesNotDescribe() {
        ApiContract contract = ApiContract.get();
        // a status the operation does not list
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> contract.check(new ApiContract.Exchange("GET", "/health/live",
                        null, null, 201, "application/json", "{\"status\":\"live\"}")))
                .isInstanceOf(AssertionError.class).hasMessageContaining("status 201 is not described for GET /health/live");
        // a 500 is never described
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> contract.check(new ApiContract.Exchange("GET", "/t/acme/me",
                        null, null, 500, "application/problem+json", problem(500))))
                .isInstanceOf(AssertionError.class).hasMessageContaining("bug of the code");
        // a body that does not match its schema
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> contract.check(new ApiContract.Exchange("GET", "/t/acme/me",
                        null, null, 200, "application/json", "{\"id\":\"x\"}")))
                .isInstanceOf(AssertionError.class).hasMessageContaining("does not match openapi.yaml#/paths/~1t~1{tenant}~1me/get/responses/200")
                .hasMessageContaining("email");
        // an error that is not a problem body
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> contract.check(new ApiContract.Exchange("GET", "/t/acme/me",
                        null, null, 404, "text/plain", "not found")))
                .isInstanceOf(AssertionError.class).hasMessageContaining("Content-Type text/plain is not described");
        // a success on a path no operation describes
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> contract.check(new ApiContract.Exchange("GET", "/admin/secret",
                        null, null, 200, "application/json", "{}")))
                .isInstanceOf(AssertionError.class).hasMessageContaining("no path of openapi.yaml matches");
        // an accepted request whose body is not what the document says
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> contract.check(new ApiContract.Exchange("POST", "/admin/tenants",
                        "application/json", "{\"name\":\"no slug\"}", 201, "application/json", tenant())))
                .isInstanceOf(AssertionError.class).hasMessageContaining("the accepted request body").hasMessageContaining("slug");
        // and what it does describe passes: a refused unknown route, a described problem, a valid success
        contract.check(new ApiContract.Exchange("GET", "/nowhere", null, null, 404, "application/problem+json", problem(404)));
        contract.check(new ApiContract.Exchange("GET", "/t/acme/me", null, null, 401, "application/problem+json", problem(401)));
        contract.check(new ApiContract.Exchange("POST", "/admin/tenants", "application/json", "{\"slug\":\"acme\"}", 201,
                "application/json", tenant()));
        assertThat(List.of(contract.describedOperations().size())).allMatch(size -> size > 70);
    }

    private static String problem(int status) {
        return "{\"type\":\"https://silo.dev/problems/x\",\"title\":\"T\",\"status\":" + status + ",\"detail\":\"d\"}";
    }

    private static String tenant() {
        return "{\"id\":\"0b5e7c1e-4a57-4c55-9d1f-1f0c2a6d8e01\",\"slug\":\"acme\",\"name\":null,\"status\":\"active\","
                + "\"created_at\":\"2026-12-04T10:00:00Z\"}";
    }
}
