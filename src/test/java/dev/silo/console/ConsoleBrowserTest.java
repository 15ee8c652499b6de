package dev.silo.console;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Silo;
import dev.silo.testing.TestingHttp;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.logging.Level;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The web console in a real browser: Debian's chromium, headless, driven by Selenium through chromium-driver.
 * The operator signs in, creates a tenant and its admin; the admin signs in through the tenant's login, creates a
 * collection and a record, edits it (and is refused with a stale ETag), and finds the audit entry. Every page's
 * browser log is read for Content-Security-Policy violations and script errors.
 *
 * <p>Skipped with a note when chromium or chromedriver is missing, unless {@code SILO_TEST_REQUIRE_CHROMIUM=true}
 * ({@code .ci/run} sets it once it has installed them), which makes the missing browser a failure. With
 * {@code -Dsilo.console.screenshots=DIR} the main pages are saved as PNGs there (docs/console/ was made so).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConsoleBrowserTest {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    private static final Duration WAIT = Duration.ofSeconds(15);
    private static final String PASSWORD = "correct horse battery staple";

    private static Silo silo;
    private static ChromeDriver browser;
    private static Path profile;
    private static WebDriverWait wait;
    private static String base;
    private static String slug;
    private static String adminEmail;
    private static Path screenshots;

    /** Browser log lines of the current test that are CSP violations or script errors. */
    private static final List<String> problems = new ArrayList<>();

    @BeforeAll
    static void start() throws IOException {
        boolean present = Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER);
        if (!present && "true".equals(System.getenv("SILO_TEST_REQUIRE_CHROMIUM"))) {
            throw new AssertionError("SILO_TEST_REQUIRE_CHROMIUM=true but " + CHROMIUM + " or " + CHROMEDRIVER
                    + " is missing: apt-get install -y chromium chromium-driver");
        }
        assumeTrue(present, "the console's browser tests need Debian's chromium and chromium-driver ("
                + CHROMIUM + ", " + CHROMEDRIVER + "): apt-get install -y chromium chromium-driver; skipped");
        silo = TestingSilo.shared();
        base = silo.baseUri().toString().replaceAll("/$", "");
        String screenshotDir = System.getProperty("silo.console.screenshots", "");
        screenshots = screenshotDir.isBlank() ? null : Files.createDirectories(Path.of(screenshotDir));
        slug = "console-" + UUID.randomUUID().toString().substring(0, 8);
        adminEmail = "ada@" + slug + ".example";
        profile = Files.createTempDirectory(Path.of(System.getProperty("silo.test.target", "target")), "chromium-profile-");
        browser = startBrowser(profile);
        wait = new WebDriverWait(browser, WAIT);
    }

    static ChromeDriver startBrowser(Path profile) {
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,900", "--user-data-dir=" + profile);
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        options.setCapability(ChromeOptions.LOGGING_PREFS, logs);
        // The driver binary is given, so Selenium Manager is never run to look for (or download) one.
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort()
                .withLogFile(new File(profile.toFile(), "chromedriver.log"))
                .build();
        return new ChromeDriver(service, options);
    }

    @AfterAll
    static void stop() {
        if (browser != null) {
            browser.quit();
        }
        browser = null;
        wait = null;
        silo = null;
    }

    @AfterEach
    void noPolicyViolations() {
        collectLog();
        List<String> seen = List.copyOf(problems);
        problems.clear();
        assertThat(seen).as("CSP violations or script errors in the browser log").isEmpty();
    }

    @Test
    @Order(1)
    void operatorSignsInAndCreatesATenantAndItsAdmin() {
        open("/console");
        screenshot("operator-sign-in");
        WebElement key = visible("#operator-key");
        assertThat(browser.switchTo().activeElement()).isEqualTo(key); // focus starts where the person types
        key.sendKeys("silo_op_wrong");
        click("#sign-in-form button[type=submit]");
        assertThat(textOf("#sign-in-error")).contains("Unauthorized");

        key.clear();
        key.sendKeys(TestingSilo.operatorKey(silo), Keys.ENTER); // the keyboard alone signs in
        visible("#section-tenants");
        assertThat(sessionStorage("silo.operator-key")).isEqualTo(TestingSilo.operatorKey(silo));
        assertThat(browser.manage().getCookies()).isEmpty();
        assertThat(browser.getCurrentUrl()).doesNotContain("silo_op_");

        type("#tenant-slug", slug);
        type("#tenant-name", "Console Test Inc");
        click("#create-tenant");
        waitForText("#tenant-detail-title", "Tenant " + slug);
        waitForStatus("active");
        assertThat(textOf("#tenant-facts")).containsPattern("size\\s+[0-9.]+ MB"); // pg_database_size, from GET /admin/tenants/{slug}
        assertThat(textOf("#tenants-table")).contains(slug, "Console Test Inc");

        click("#action-suspend");
        waitForStatus("suspended");
        assertThat(new TestingHttp(silo.baseUri()).get("/t/" + slug + "/health").status()).isEqualTo(403);
        click("#action-resume");
        waitForStatus("active");

        // A password the server refuses (the e-mail itself): the problem's title and detail are shown.
        type("#admin-email", adminEmail);
        type("#admin-password", adminEmail);
        click("#create-admin");
        assertThat(textOf("#admin-error")).contains("Bad request", "e-mail");
        type("#admin-password", PASSWORD);
        click("#create-admin");
        waitForText("#admin-notice", adminEmail);
        screenshot("operator-tenant");
        ((JavascriptExecutor) browser).executeScript("window.scrollTo(0, 0);");
        screenshot("operator-tenants");
    }

    @Test
    @Order(2)
    void operatorSeesAndVerifiesThePlatformAudit() {
        click("#nav a[href='#audit']");
        waitForText("#audit-table", "tenant.create");
        assertThat(textOf("#audit-table")).contains("tenant.suspend", "tenant.resume");
        click("#audit-verify");
        waitForText("#verification-result", "intact");
        screenshot("operator-audit");

        click("#nav a[href='#backups']");
        waitForText("#backups-status", "catalog snapshots");
        // Other test classes on the shared node may have run restores: either state of the table will do.
        wait.until(driver -> {
            String jobs = driver.findElement(By.id("jobs-table")).getText();
            return jobs.contains("No restore jobs.") || jobs.contains("Restore jobs, newest first");
        });
        screenshot("operator-backups");

        // A staff access request needs the operator's e-mail, which the bootstrap operator has none of: the
        // problem is shown as the API gives it.
        click("#nav a[href='#access']");
        type("#access-tenant", slug);
        click("#access-load");
        waitForText("#access-table", "No requests for this tenant.");
        type("#access-reason", "ticket 4711: the console test asks");
        click("#access-request");
        assertThat(textOf("#access-request-error")).contains("Forbidden", "e-mail");
    }

    @Test
    @Order(3)
    void operatorPurgesOnlyAfterTypingTheSlug() {
        String doomed = slug + "-x";
        click("#nav a[href='#tenants']");
        type("#tenant-slug", doomed);
        click("#create-tenant");
        waitForText("#tenant-detail-title", "Tenant " + doomed);
        click("#action-deprovision");
        visible("#confirm-ok");
        browser.switchTo().activeElement().sendKeys(Keys.ESCAPE); // cancelled: nothing happens
        wait.until(ExpectedConditions.invisibilityOfElementLocated(By.cssSelector("dialog")));
        assertThat(browser.findElement(By.cssSelector("#tenant-facts .badge")).getText()).isEqualTo("active");
        click("#action-deprovision");
        click("#confirm-ok");
        waitForStatus("deprovisioned");
        click("#action-purge");
        WebElement confirm = visible("#confirm-ok");
        assertThat(browser.switchTo().activeElement().getAttribute("id")).isEqualTo("confirm-typed"); // focus in the dialog
        type("#confirm-typed", slug); // the other tenant's slug: not this one
        assertThat(confirm.isEnabled()).isFalse();
        type("#confirm-typed", doomed);
        assertThat(confirm.isEnabled()).isTrue();
        click("#purge-now");
        confirm.click();
        waitForStatus("purged");
        // Gone: the slug names no tenant any more, in the operator API at once and on the tenant routes as soon as
        // the node's directory hears the catalog event (milliseconds).
        assertThat(new TestingHttp(silo.baseUri()).withBearer(TestingSilo.operatorKey(silo))
                .get("/admin/tenants/" + doomed).status()).isEqualTo(404);
        org.awaitility.Awaitility.await().atMost(WAIT).until(() ->
                new TestingHttp(silo.baseUri()).get("/t/" + doomed + "/health").status() == 404);
    }

    @Test
    @Order(4)
    void aWrongPasswordShowsTheProblem() {
        open("/t/" + slug + "/console");
        type("#email", adminEmail);
        type("#password", "not the password at all");
        click("#sign-in-button");
        String error = textOf("#sign-in-error");
        assertThat(error).contains("Unauthorized", "the e-mail or password is incorrect");
        assertThat(visible("#sign-in").isDisplayed()).isTrue();
    }

    @Test
    @Order(5)
    void adminSignsInAndManagesUsers() {
        type("#email", adminEmail);
        type("#password", PASSWORD);
        click("#sign-in-button");
        visible("#section-users");
        waitForText("#users-table", adminEmail);
        assertThat(textOf("#who")).isEqualTo(adminEmail);
        assertThat(sessionStorage("silo.tenant." + slug)).contains("access_token");
        assertThat(browser.manage().getCookies()).isEmpty();

        type("#user-email", "bob@" + slug + ".example");
        type("#user-password", PASSWORD);
        click("#create-user");
        waitForText("#users-table", "bob@" + slug + ".example");
        click("button[aria-label='Disable bob@" + slug + ".example']");
        wait.until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("button[aria-label='Enable bob@" + slug + ".example']")));
        screenshot("tenant-users"); // before a reset token is on the page: the pictures go into the docs
        click("button[aria-label='Reset the password of bob@" + slug + ".example']");
        waitForText("#users-notice", "Password reset token");
        // The last admin cannot demote themselves: the 409's detail is shown, and the role stays.
        new org.openqa.selenium.support.ui.Select(visible("select[aria-label='Role of " + adminEmail + "']")).selectByValue("member");
        assertThat(textOf("#users-error")).contains("Conflict");
    }

    @Test
    @Order(6)
    void adminCreatesACollectionAndEditsARecordWithItsETag() {
        click("#nav a[href='#collections']");
        visible("#section-collections");
        type("#collection-name", "books");
        type("#collection-schema", "{\"fields\": {\"title\": {\"type\": \"string\", \"required\": true}, "
                + "\"pages\": {\"type\": \"integer\"}, \"isbn\": {\"type\": \"string\", \"encrypted\": true}}}");
        click("#save-collection");
        waitForText("#collections-table", "title: string, required");
        screenshot("tenant-collections");

        click("button[aria-label='Browse books']");
        visible("#section-records");
        type("#new-record-data", "{\"title\": \"Dune\", \"pages\": 412, \"isbn\": \"978-0441013593\"}");
        click("#create-record");
        waitForText("#record-etag", "\"1\"");
        waitForText("#records-table", "Dune");

        // A schema violation: the problem's detail names the field.
        type("#record-data", "{\"title\": \"Dune\", \"pages\": \"many\"}");
        click("#save-record");
        assertThat(textOf("#record-error")).contains("Bad request", "pages");

        type("#record-data", "{\"title\": \"Dune\", \"pages\": 500, \"isbn\": \"978-0441013593\"}");
        click("#save-record");
        waitForText("#record-etag", "\"2\"");
        waitForText("#records-table", "500");

        // Somebody else writes the record: the console's next save carries a stale If-Match and is refused.
        String recordId = visible("#records-table button[data-record]").getAttribute("data-record");
        TestingHttp api = adminApi();
        TestingHttp.Response current = api.get("/t/" + slug + "/collections/books/records/" + recordId);
        assertThat(current.header("ETag")).isEqualTo("\"2\"");
        TestingHttp.Response other = api.send(api.request("/t/" + slug + "/collections/books/records/" + recordId)
                .header("If-Match", "\"2\"").header("Content-Type", "application/json")
                .PUT(java.net.http.HttpRequest.BodyPublishers.ofString("{\"title\": \"Dune Messiah\", \"pages\": 256}")).build());
        assertThat(other.status()).isEqualTo(200);
        type("#record-data", "{\"title\": \"Dune\", \"pages\": 501}");
        click("#save-record");
        assertThat(textOf("#record-error")).contains("Precondition failed", "version 3");
        click("#reload-record");
        waitForText("#record-etag", "\"3\"");
        assertThat(visible("#record-data").getAttribute("value")).contains("Dune Messiah");

        type("#filter-field", "title");
        type("#filter-value", "Dune Messiah");
        click("#records-search");
        waitForText("#records-table", "Dune Messiah");
        screenshot("tenant-records");
    }

    @Test
    @Order(7)
    void adminSeesTheAuditEntries() {
        click("#nav a[href='#audit']");
        waitForText("#audit-table", "collection.create");
        assertThat(textOf("#audit-table")).contains("login.failure", "user.create", "user.update");
        type("#audit-type", "collection.create");
        click("#audit-search");
        wait.until(driver -> !textOf("#audit-table").contains("user.create"));
        assertThat(textOf("#audit-table")).contains("collection.create", "books");
        click("#audit-verify");
        waitForText("#verification-result", "intact");
        screenshot("tenant-audit");
        click("#nav a[href='#access']");
        waitForText("#access-table", "No staff access requests.");
    }

    @Test
    @Order(8)
    void theConsoleFitsAPhone() {
        browser.manage().window().setSize(new Dimension(390, 844));
        try {
            click("#nav a[href='#records']");
            waitForText("#records-table", "Dune Messiah");
            Number overflow = (Number) ((JavascriptExecutor) browser).executeScript(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth;");
            assertThat(overflow.intValue()).as("horizontal overflow of the page on a phone").isLessThanOrEqualTo(0);
            screenshot("phone-tenant-records");
            click("#sign-out");
            visible("#sign-in");
            assertThat(sessionStorage("silo.tenant." + slug)).isNull();
            open("/console");
            visible("#section-tenants");
            waitForText("#tenants-table", "Slug");
            type("#open-slug", slug);
            click("#open-tenant");
            waitForText("#tenant-detail-title", slug);
            ((JavascriptExecutor) browser).executeScript("window.scrollTo(0, 0);");
            overflow = (Number) ((JavascriptExecutor) browser).executeScript(
                    "return document.documentElement.scrollWidth - document.documentElement.clientWidth;");
            assertThat(overflow.intValue()).isLessThanOrEqualTo(0);
            screenshot("phone-operator-tenants");
        } finally {
            browser.manage().window().setSize(new Dimension(1280, 900));
        }
    }

    /** The log check above would pass on a browser that logs nothing: this shows that a violation is seen. */
    @Test
    @Order(9)
    void aViolationWouldBeSeen() {
        open("/console");
        ((JavascriptExecutor) browser).executeScript(
                "const s = document.createElement('script'); s.textContent = 'window.injected = 1'; document.head.append(s);");
        wait.until(driver -> {
            collectLog();
            return problems.stream().anyMatch(line -> line.contains("Content Security Policy"));
        });
        assertThat(((JavascriptExecutor) browser).executeScript("return window.injected === undefined;")).isEqualTo(true);
        problems.clear();
    }

    @Test
    @Order(10)
    void anAdminWithAnAuthenticatorSignsInWithTheCodeAfterThePassword() throws Exception {
        String email = "mia@" + slug + ".example";
        assertThat(adminApi().post("/t/" + slug + "/users",
                "{\"email\":\"" + email + "\",\"password\":\"" + PASSWORD + "\",\"role\":\"admin\"}").status()).isEqualTo(201);
        TestingHttp mia = new TestingHttp(silo.baseUri(), new TestingHttp(silo.baseUri()).post("/t/" + slug + "/auth/login",
                "{\"email\":\"" + email + "\",\"password\":\"" + PASSWORD + "\"}").json().get("access_token").asText());
        byte[] secret = new org.apache.commons.codec.binary.Base32().decode(
                mia.post("/t/" + slug + "/me/mfa/totp", "").json().get("secret").asText());
        // Confirmed with the previous step's code (one step of skew is accepted), so the current one is still unused.
        assertThat(mia.post("/t/" + slug + "/me/mfa/totp/confirm",
                "{\"code\":\"" + totp(secret, java.time.Instant.now().minusSeconds(30)) + "\"}").status()).isEqualTo(200);

        ((JavascriptExecutor) browser).executeScript("sessionStorage.clear();");
        open("/t/" + slug + "/console");
        type("#email", email);
        type("#password", PASSWORD);
        click("#sign-in-button");
        visible("#mfa-form");
        assertThat(browser.findElement(By.id("sign-in-form")).isDisplayed()).isFalse();
        assertThat(sessionStorage("silo.tenant." + slug)).isNull(); // no token before the second factor

        type("#mfa-code", "000000");
        click("#mfa-button");
        assertThat(textOf("#mfa-error")).contains("Unauthorized");

        type("#mfa-code", totp(secret, java.time.Instant.now()));
        click("#mfa-button");
        visible("#section-users");
        assertThat(textOf("#who")).isEqualTo(email);
        assertThat(sessionStorage("silo.tenant." + slug)).contains("access_token");
    }

    private static String totp(byte[] secret, java.time.Instant at) throws Exception {
        var generator = new com.eatthepath.otp.TimeBasedOneTimePasswordGenerator();
        return String.format(Locale.ROOT, "%06d",
                generator.generateOneTimePassword(new javax.crypto.spec.SecretKeySpec(secret, "HmacSHA1"), at));
    }

    // ---- helpers

    private static TestingHttp adminApi() {
        TestingHttp.Response login = new TestingHttp(silo.baseUri()).post("/t/" + slug + "/auth/login",
                "{\"email\":\"" + adminEmail + "\",\"password\":\"" + PASSWORD + "\"}");
        JsonNode tokens = login.json();
        return new TestingHttp(silo.baseUri(), tokens.get("access_token").asText());
    }

    private static void open(String path) {
        collectLog();
        browser.get(base + path);
        wait.until(driver -> "true".equals(((JavascriptExecutor) driver).executeScript("return document.body && document.body.dataset.ready")));
    }

    private static WebElement visible(String css) {
        return wait.until(ExpectedConditions.visibilityOfElementLocated(By.cssSelector(css)));
    }

    private static void click(String css) {
        wait.until(ExpectedConditions.elementToBeClickable(By.cssSelector(css))).click();
    }

    private static void type(String css, String text) {
        WebElement field = visible(css);
        field.clear();
        field.sendKeys(text);
    }

    /** The text of an element once it is shown and not empty. */
    private static String textOf(String css) {
        return wait.until(driver -> {
            WebElement element = driver.findElement(By.cssSelector(css));
            String text = element.isDisplayed() ? element.getText() : "";
            return text.isBlank() ? null : text;
        });
    }

    /** The status badge of the tenant shown (not a label such as "purged after", which names a time). */
    private static void waitForStatus(String status) {
        wait.until(ExpectedConditions.textToBe(By.cssSelector("#tenant-facts .badge"), status));
    }

    private static void waitForText(String css, String text) {
        wait.until(ExpectedConditions.textToBePresentInElementLocated(By.cssSelector(css), text));
    }

    private static String sessionStorage(String item) {
        return (String) ((JavascriptExecutor) browser).executeScript("return sessionStorage.getItem(arguments[0]);", item);
    }

    private static void collectLog() {
        for (LogEntry entry : browser.manage().logs().get(LogType.BROWSER)) {
            String message = entry.getMessage();
            String lower = message.toLowerCase(Locale.ROOT);
            if (lower.contains("content security policy") || lower.contains("refused to") || lower.contains("uncaught")
                    || lower.contains("syntaxerror") || lower.contains("typeerror") || lower.contains("referenceerror")) {
                problems.add(entry.getLevel() + " " + message);
            }
        }
    }

    /** The whole page (not just the window) as a PNG in the screenshot folder, when one was given. */
    private static void screenshot(String name) {
        if (screenshots == null) {
            return;
        }
        JavascriptExecutor script = browser;
        Number width = (Number) script.executeScript("return document.documentElement.clientWidth;");
        Number height = (Number) script.executeScript("return Math.min(document.documentElement.scrollHeight, 2400);");
        var shot = browser.executeCdpCommand("Page.captureScreenshot", java.util.Map.of("format", "png",
                "captureBeyondViewport", true, "clip", java.util.Map.of("x", 0, "y", 0, "width", width, "height", height, "scale", 1)));
        try {
            Files.write(screenshots.resolve(name + ".png"), java.util.Base64.getDecoder().decode((String) shot.get("data")));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
