package dev.silo.platform.http;

import dev.silo.platform.problem.Forbidden;
import io.helidon.http.HeaderNames;
import io.helidon.http.Method;
import io.helidon.http.Status;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;

import java.util.Map;

/**
 * What {@code SILO_REQUIRE_HTTPS} does with a request that arrived over plain HTTP (claim C9): a GET or HEAD
 * without credentials is sent to the same URL over HTTPS (308 keeps the method, RFC 9110 section 15.4.9); anything
 * else is refused with 403 {@code https-required}, and so is a request that carries an {@code Authorization}
 * header, even a GET: its token has already crossed the network in clear, and following a redirect would send it
 * a second time. The client must fix its URL (and should treat that token as exposed), not be silently upgraded.
 */
final class PlainHttp {
    /** A host name or address with an optional port: nothing else goes into a Location header. */
    private static final java.util.regex.Pattern HOST = java.util.regex.Pattern.compile("[A-Za-z0-9.\\-]+(:[0-9]{1,5})?|\\[[0-9A-Fa-f:.]+\\](:[0-9]{1,5})?");

    private PlainHttp() {}

    /**
     * Answers {@code request} with the redirect, or throws the 403.
     *
     * @return true when the response was sent (the redirect)
     * @throws Forbidden {@code https-required}
     */
    static boolean refuse(ServerRequest request, ServerResponse response, java.util.Optional<String> publicHost) {
        Method method = request.prologue().method();
        if (request.headers().contains(HeaderNames.AUTHORIZATION)) {
            throw new Forbidden("https-required", "this request carries credentials over plain HTTP and is refused; send it "
                    + "to the https:// URL (and treat the token it carried as exposed)", Map.of("scheme", "http"));
        }
        // SILO_PUBLIC_URL's host when it is https; else the Host the client sent (behind a proxy, the public name; a
        // forged Host only redirects its sender).
        String host = publicHost.orElseGet(() -> request.headers().first(HeaderNames.HOST).orElse(""));
        if ((method.equals(Method.GET) || method.equals(Method.HEAD)) && HOST.matcher(host).matches()) {
            String query = request.prologue().query().rawValue();
            String location = "https://" + host + request.path().rawPath() + (query.isEmpty() ? "" : "?" + query);
            response.status(Status.PERMANENT_REDIRECT_308);
            response.header(HeaderNames.LOCATION, location);
            response.send();
            return true;
        }
        throw new Forbidden("https-required", "this server only answers over HTTPS; send the request to the https:// URL",
                Map.of("scheme", "http"));
    }
}
