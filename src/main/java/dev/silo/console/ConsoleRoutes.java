package dev.silo.console;

import dev.silo.platform.http.Routes;
import dev.silo.platform.problem.NotFound;
import io.helidon.http.HeaderName;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerResponse;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * The web console (README "Web console"): static pages, styles and ES modules served from the jar's
 * {@code console/} folder. {@code GET /console} is the operators' console, {@code GET /t/{tenant}/console} a
 * tenant admins' console; both are plain files that call the same public API as any other client, with the
 * credentials the person signs in with. Nothing here reads the catalog or a tenant: the tenant page is the
 * same file for every slug (so it tells nobody which tenants exist), and its script reads the slug from the URL.
 *
 * <p>The API's {@code Content-Security-Policy} is {@code default-src 'none'}, which would stop a page from
 * loading its own script. Console responses replace it with {@link #CONTENT_SECURITY_POLICY}: scripts, styles,
 * images and {@code fetch} from this origin only, no inline script or style, no plugins, no framing, and no form
 * submission at all (every form is handled by script; should the script fail, a sign-in form cannot fall back to
 * a GET that puts the password in the URL). Every other security header stays as the edge sets it.
 */
public final class ConsoleRoutes {
    /** The policy of console responses only; the API keeps its own. */
    public static final String CONTENT_SECURITY_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; "
            + "img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /** Asset names: one flat folder, lower case, no dots but the extension, so no path can leave it. */
    private static final Pattern ASSET = Pattern.compile("^[a-z0-9][a-z0-9-]{0,63}\\.(css|js|svg)$");

    private static final Map<String, String> TYPES = Map.of(
            "html", "text/html; charset=utf-8",
            "css", "text/css; charset=utf-8",
            "js", "text/javascript; charset=utf-8",
            "svg", "image/svg+xml");

    private static final String FOLDER = "console/";

    private static final HeaderName CSP = HeaderNames.create("Content-Security-Policy");

    /**
     * What the jar holds does not change while it runs: each file is read once. Only files found are kept, so
     * requests for made-up names cannot grow the map.
     */
    private final Map<String, byte[]> files = new ConcurrentHashMap<>();

    public void register(Routes routes) {
        routes.get("/console", (request, response) -> send(response, "operator.html"));
        routes.get("/console/{file}", (request, response) -> {
            String file = request.path().pathParameters().get("file");
            if (!ASSET.matcher(file).matches()) {
                throw new NotFound("no such console file"); // the name is not echoed: it is anything a client sent
            }
            send(response, file);
        });
        routes.get("/t/{tenant}/console", (request, response) -> send(response, "tenant.html"));
    }

    private void send(ServerResponse response, String name) {
        byte[] content = files.computeIfAbsent(name, ConsoleRoutes::load);
        if (content == null) {
            throw new NotFound("no console file '" + name + "'");
        }
        response.header(CSP, CONTENT_SECURITY_POLICY);
        response.header(HeaderNames.CONTENT_TYPE, TYPES.get(name.substring(name.lastIndexOf('.') + 1)));
        // The edge's Cache-Control: no-store stays: the files change with the node's version and are small.
        response.send(content);
    }

    /** The file's bytes, or null when the jar has no such file. */
    private static byte[] load(String name) {
        try (InputStream in = ConsoleRoutes.class.getClassLoader().getResourceAsStream(FOLDER + name)) {
            return in == null ? null : in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the console file " + name + " from the jar", e);
        }
    }
}
