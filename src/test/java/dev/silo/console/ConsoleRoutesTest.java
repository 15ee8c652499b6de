package dev.silo.console;

import dev.silo.app.Silo;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The console's files over HTTP (no browser): what is served, with which headers, and what is not. The browser
 * flow is {@link ConsoleBrowserTest}.
 */
class ConsoleRoutesTest {
    private static Silo silo;
    private static TestingHttp http;

    @BeforeAll
    static void start() {
        silo = TestingSilo.shared();
        http = new TestingHttp(silo.baseUri());
    }

    @AfterAll
    static void forget() {
        silo = null;
        http = null;
    }

    @Test
    void pagesAndAssetsAreServedWithTheConsolePolicy() {
        for (String path : List.of("/console", "/t/acme/console", "/console/operator.js", "/console/tenant.js",
                "/console/api.js", "/console/ui.js", "/console/console.css", "/console/icon.svg")) {
            TestingHttp.Response response = http.get(path);
            assertThat(response.status()).as(path).isEqualTo(200);
            String policy = response.header("Content-Security-Policy");
            assertThat(policy).as(path).isEqualTo(ConsoleRoutes.CONTENT_SECURITY_POLICY)
                    .contains("script-src 'self'", "style-src 'self'", "form-action 'none'", "frame-ancestors 'none'")
                    .doesNotContain("unsafe", "data:", "*");
            assertThat(response.header("X-Content-Type-Options")).isEqualTo("nosniff");
            assertThat(response.header("X-Frame-Options")).isEqualTo("DENY");
            assertThat(response.header("Cache-Control")).isEqualTo("no-store");
            assertThat(response.headers().allValues("Content-Security-Policy")).hasSize(1);
        }
        assertThat(http.get("/console").contentType()).isEqualTo("text/html; charset=utf-8");
        assertThat(http.get("/console").body()).contains("<script type=\"module\" src=\"/console/operator.js\">");
        assertThat(http.get("/t/acme/console").body()).contains("src=\"/console/tenant.js\"");
        assertThat(http.get("/console/operator.js").contentType()).isEqualTo("text/javascript; charset=utf-8");
        assertThat(http.get("/console/console.css").contentType()).isEqualTo("text/css; charset=utf-8");
    }

    @Test
    void theApiKeepsItsOwnStricterPolicy() {
        assertThat(http.get("/health/live").header("Content-Security-Policy")).isEqualTo("default-src 'none'; frame-ancestors 'none'");
        assertThat(http.get("/admin/tenants").header("Content-Security-Policy")).isEqualTo("default-src 'none'; frame-ancestors 'none'");
    }

    @Test
    void onlyTheConsoleFolderIsServed() {
        for (String path : List.of("/console/missing.js", "/console/..%2Flogback.xml", "/console/operator.html",
                "/console/Operator.js", "/console/.hidden.js", "/console/silo-build.properties", "/console/logback.xml",
                "/console/db%2Fcatalog")) {
            TestingHttp.Response response = http.get(path);
            assertThat(response.status()).as(path).isEqualTo(404);
            assertThat(response.contentType()).as(path).isEqualTo("application/problem+json");
            assertThat(response.header("Content-Security-Policy")).as(path).isEqualTo("default-src 'none'; frame-ancestors 'none'");
        }
        assertThat(http.get("/console/a/b.js").status()).isEqualTo(404);
        assertThat(http.send(http.request("/console").POST(java.net.http.HttpRequest.BodyPublishers.ofString("{}")).build()).status())
                .isEqualTo(405);
    }

    /**
     * The policy forbids inline script and style; this keeps the files from needing either (a browser would
     * refuse them, and {@link ConsoleBrowserTest} reads its log, but only for the pages it visits).
     */
    @Test
    void filesHaveNoInlineScriptOrStyle() throws IOException, URISyntaxException {
        Path folder = Path.of(ConsoleRoutes.class.getClassLoader().getResource("console/operator.html").toURI()).getParent();
        Pattern inlineScript = Pattern.compile("<script(?![^>]*\\bsrc=)[^>]*>", Pattern.CASE_INSENSITIVE);
        Pattern handlerAttribute = Pattern.compile("\\son[a-z]+\\s*=", Pattern.CASE_INSENSITIVE);
        Pattern styleAttribute = Pattern.compile("\\sstyle\\s*=|<style", Pattern.CASE_INSENSITIVE);
        try (Stream<Path> files = Files.list(folder)) {
            List<Path> all = files.toList();
            assertThat(all).extracting(path -> path.getFileName().toString())
                    .contains("operator.html", "tenant.html", "operator.js", "tenant.js", "api.js", "ui.js", "console.css");
            for (Path file : all) {
                String text = Files.readString(file);
                if (file.toString().endsWith(".html")) {
                    assertThat(inlineScript.matcher(text).find()).as(file + " has an inline script").isFalse();
                    assertThat(handlerAttribute.matcher(text).find()).as(file + " has an event-handler attribute").isFalse();
                    assertThat(styleAttribute.matcher(text).find()).as(file + " has an inline style").isFalse();
                }
                if (file.toString().endsWith(".js")) {
                    assertThat(text).as(file + " uses innerHTML or eval").doesNotContain(".innerHTML", ".outerHTML", "insertAdjacentHTML", "eval(", "new Function",
                            "localStorage", "document.cookie", "setAttribute('style'");
                }
            }
        }
    }
}
