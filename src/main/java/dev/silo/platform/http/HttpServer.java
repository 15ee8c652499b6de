package dev.silo.platform.http;

import dev.silo.platform.db.DatabaseFailures;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.MethodNotAllowed;
import dev.silo.platform.problem.NotFound;
import dev.silo.platform.problem.PayloadTooLarge;
import dev.silo.platform.problem.Problem;
import dev.silo.platform.problem.Unavailable;
import io.helidon.http.DirectHandler;
import io.helidon.http.HeaderNames;
import io.helidon.http.HttpException;
import io.helidon.http.RequestException;
import io.helidon.http.Status;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.http.FilterChain;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.RoutingRequest;
import io.helidon.webserver.http.RoutingResponse;
import io.helidon.webserver.http.ServerRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

import static java.util.Objects.requireNonNull;

/**
 * The HTTP edge: one Helidon WebServer (a virtual thread per request) with the request-id, security-header,
 * error-rendering and access-log filter in front of every route.
 *
 * <p>Every failure leaves as a problem body: {@link Problem}s with their own status, framework errors
 * (bad framing, too large) through direct handlers, and anything else as an opaque 500 logged once with the
 * request id.
 */
public final class HttpServer implements AutoCloseable {
    /** The {@code api} stream: one line per request. */
    private static final Logger apiLog = LoggerFactory.getLogger("silo.api");
    private static final Logger log = LoggerFactory.getLogger(HttpServer.class);

    /** Request bodies above this answer 413. */
    public static final long MAX_PAYLOAD_BYTES = 1024 * 1024;

    private final WebServer server;

    private HttpServer(WebServer server) {
        this.server = server;
    }

    public record Settings(String host, int port, Duration shutdownGrace) {
        public Settings {
            requireNonNull(host, "host is null");
            requireNonNull(shutdownGrace, "shutdownGrace is null");
        }
    }

    public static HttpServer start(Settings settings, Consumer<Routes> registrar) {
        HttpRouting.Builder routing = HttpRouting.builder();
        Routes routes = new Routes(routing);
        routing.addFilter(HttpServer::filter);
        registrar.accept(routes);
        routing.any((request, response) -> {
            Set<String> allowed = routes.allowedMethods(request);
            String method = request.prologue().method().text();
            if (allowed.isEmpty()) {
                throw new NotFound("no route for " + method + " " + request.path().path());
            }
            throw new MethodNotAllowed(method, request.path().path(), allowed);
        });
        routing.error(Throwable.class, (request, response, error) -> renderError(request, response, error));

        WebServer server = WebServer.builder()
                .host(settings.host())
                .port(settings.port())
                .maxPayloadSize(MAX_PAYLOAD_BYTES)
                .shutdownGracePeriod(settings.shutdownGrace())
                .directHandlers(handlers -> {
                    for (DirectHandler.EventType type : DirectHandler.EventType.values()) {
                        handlers.addHandler(type, HttpServer::direct);
                    }
                })
                .routing(routing)
                .build()
                .start();
        return new HttpServer(server);
    }

    public int port() {
        return server.port();
    }

    public boolean running() {
        return server.isRunning();
    }

    @Override
    public void close() {
        server.stop();
    }

    private static void filter(FilterChain chain, RoutingRequest request, RoutingResponse response) {
        long started = System.nanoTime();
        String offered = request.headers().first(HeaderNames.create(RequestIds.HEADER)).orElse(null);
        String requestId = RequestIds.wellFormed(offered) ? offered : RequestIds.generate();
        request.context().register(RequestIds.MDC_KEY, requestId);
        MDC.put(RequestIds.MDC_KEY, requestId);
        response.header(RequestIds.HEADER, requestId);
        response.header("X-Content-Type-Options", "nosniff");
        response.header("Cache-Control", "no-store");
        response.header("X-Frame-Options", "DENY");
        response.header("Referrer-Policy", "no-referrer");
        response.header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
        try {
            chain.proceed();
        } catch (Throwable error) {
            renderError(request, response, error);
        } finally {
            long micros = (System.nanoTime() - started) / 1000;
            apiLog.atInfo()
                    .addKeyValue("method", request.prologue().method().text())
                    .addKeyValue("route", Routes.routeOf(request))
                    .addKeyValue("status", response.status().code())
                    .addKeyValue("duration_ms", micros / 1000.0)
                    .addKeyValue("client_ip", request.remotePeer().host())
                    .log("{} {} {} {}ms", request.prologue().method().text(), Routes.routeOf(request), response.status().code(),
                            micros / 1000.0);
            MDC.remove(RequestIds.MDC_KEY);
        }
    }

    private static void renderError(ServerRequest request, io.helidon.webserver.http.ServerResponse response, Throwable error) {
        String requestId = request.context().get(RequestIds.MDC_KEY, String.class).orElse(null);
        String instance = request.path().path();
        Optional<Unavailable> databaseDown = error instanceof Problem ? Optional.empty() : DatabaseFailures.asUnavailable(error);
        if (error instanceof Problem problem) {
            ProblemRenderer.render(response, problem, instance, requestId);
        } else if (databaseDown.isPresent()) {
            // The database could not be reached, whoever wrapped the exception: a 503 the client may retry, not a 500.
            log.warn("Database unreachable in {} {} (request {}; {})", request.prologue().method().text(), instance, requestId,
                    error.getClass().getSimpleName());
            ProblemRenderer.render(response, databaseDown.get(), instance, requestId);
        } else if (error instanceof RequestException requestException && requestException.status().code() < 500) {
            ProblemRenderer.render(response, frameworkProblem(requestException.status()), instance, requestId);
        } else if (error instanceof HttpException httpException && httpException.status().code() < 500) {
            ProblemRenderer.render(response, frameworkProblem(httpException.status()), instance, requestId);
        } else {
            log.error("Unhandled error in {} {} (request {})", request.prologue().method().text(), instance, requestId, error);
            ProblemRenderer.renderInternalError(response, instance, requestId);
        }
    }

    private static Problem frameworkProblem(Status status) {
        return switch (status.code()) {
            case 413 -> new PayloadTooLarge("the request body is larger than " + MAX_PAYLOAD_BYTES + " bytes");
            case 404 -> new NotFound("not found");
            default -> new BadRequest("the request is malformed (" + status.reasonPhrase() + ")");
        };
    }

    private static DirectHandler.TransportResponse direct(DirectHandler.TransportRequest request, DirectHandler.EventType type,
                                                          Status status, io.helidon.http.ServerResponseHeaders headers,
                                                          String message) {
        String name = switch (status.code()) {
            case 413 -> "payload-too-large";
            case 400 -> "bad-request";
            case 403 -> "forbidden";
            case 505 -> "http-version-not-supported";
            default -> status.code() >= 500 ? "internal-error" : "bad-request";
        };
        String detail = status.code() == 413
                ? "the request body is larger than " + MAX_PAYLOAD_BYTES + " bytes"
                : "the request could not be processed: " + status.reasonPhrase();
        if (status.code() >= 500) {
            log.warn("Connection-level error {}: {}", status.code(), message);
        }
        return DirectHandler.TransportResponse.builder()
                .status(status)
                .headers(headers)
                .header(HeaderNames.CONTENT_TYPE, ProblemRenderer.CONTENT_TYPE)
                .header(HeaderNames.create("X-Content-Type-Options"), "nosniff")
                .entity(ProblemRenderer.body(status.code(), Problem.TYPE_BASE + name, status.reasonPhrase(), detail,
                        null, null, Map.of()))
                .build();
    }
}
