package dev.silo.platform.http;

import dev.silo.platform.db.DatabaseFailures;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.HeadersTooLarge;
import dev.silo.platform.problem.MethodNotAllowed;
import dev.silo.platform.problem.NotFound;
import dev.silo.platform.problem.PayloadTooLarge;
import dev.silo.platform.problem.Problem;
import dev.silo.platform.problem.Unavailable;
import io.helidon.common.socket.SocketOptions;
import io.helidon.http.DirectHandler;
import io.helidon.http.HeaderNames;
import io.helidon.http.HeaderValues;
import io.helidon.http.HttpException;
import io.helidon.http.RequestException;
import io.helidon.http.Status;
import io.helidon.webserver.WebServer;
import io.helidon.webserver.WebServerConfig;
import io.helidon.webserver.http1.Http1Config;
import io.helidon.webserver.http.FilterChain;
import io.helidon.webserver.http.HttpRouting;
import io.helidon.webserver.http.RoutingRequest;
import io.helidon.webserver.http.RoutingResponse;
import io.helidon.webserver.http.ServerRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
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

    /**
     * Longest request line (method, target, version) accepted; longer answers 414. Helidon's default, written out
     * because claim C8 promises a bound: Silo's longest legitimate URI (a filtered, paged list) is far below it.
     */
    static final int MAX_REQUEST_LINE_BYTES = 4096;
    /** Most bytes of request headers accepted; more is refused by Helidon before routing (a 400 problem). */
    static final int MAX_HEADER_BYTES = 16 * 1024;
    /**
     * Most request header fields accepted; more answers 431. The byte bound alone would let 4,000 one-letter
     * headers through, each a map entry and a string for every filter to look at; browsers send about 20.
     */
    static final int MAX_HEADER_COUNT = 100;

    /**
     * Sent on every response a client received over HTTPS (claim C9, RFC 6797): for a year, browsers then use
     * only HTTPS to this host and its subdomains, so a later plain-HTTP link cannot be intercepted (SSL stripping).
     * Never over plain HTTP, where a browser ignores it anyway and it would only mislead.
     */
    static final String HSTS = "max-age=31536000; includeSubDomains";
    private static final io.helidon.http.HeaderName STRICT_TRANSPORT_SECURITY = HeaderNames.create("Strict-Transport-Security");

    /**
     * Answered over plain HTTP even with {@code SILO_REQUIRE_HTTPS}: platform health checks (Heroku's router,
     * Kubernetes probes, a load balancer) call the node directly, over plain HTTP, and must not be told to
     * redirect. They carry no token and return nothing secret.
     */
    static final Set<String> PLAIN_HTTP_PATHS = Set.of("/health/live", "/health/ready");

    /** On every response, whichever layer wrote it. */
    static final Map<String, String> SECURITY_HEADERS = securityHeaders();

    private final WebServer server;
    private final ConnectionGuard guard;
    private final ListenerWatchdog watchdog;
    private final AtomicBoolean closing;
    private final Optional<CertificateReloader> reloader;
    private final boolean tls;
    private final List<Routes.Route> routeTable;

    private HttpServer(WebServer server, ConnectionGuard guard, ListenerWatchdog watchdog, AtomicBoolean closing,
                       Optional<CertificateReloader> reloader, boolean tls, List<Routes.Route> routeTable) {
        this.routeTable = List.copyOf(routeTable);
        this.server = server;
        this.guard = guard;
        this.watchdog = watchdog;
        this.closing = closing;
        this.reloader = reloader;
        this.tls = tls;
    }

    /** The routes this server answers (without {@code HEAD}, which every {@code GET} route answers too). */
    public List<Routes.Route> routeTable() {
        return routeTable;
    }

    /** Whether this server speaks TLS itself. */
    public boolean tls() {
        return tls;
    }

    /**
     * @param limits         connection limits and timeouts
     * @param onListenerLost what to do when the listener stops accepting while the server is not being closed
     *                       ({@link #EXIT_ON_LISTENER_LOST} in production)
     * @param watchdogPeriod how often the listener is probed
     */
    public record Settings(String host, int port, Duration shutdownGrace, ConnectionLimits limits, Runnable onListenerLost,
                           Duration watchdogPeriod, TrustedProxies trustedProxies, HttpsConfig https) {
        public Settings {
            requireNonNull(host, "host is null");
            requireNonNull(shutdownGrace, "shutdownGrace is null");
            requireNonNull(limits, "limits is null");
            requireNonNull(onListenerLost, "onListenerLost is null");
            requireNonNull(watchdogPeriod, "watchdogPeriod is null");
            requireNonNull(trustedProxies, "trustedProxies is null");
            requireNonNull(https, "https is null");
            if (https.selfSigned()) {
                throw new IllegalArgumentException("resolve self-signed to certificate files before starting the server");
            }
        }

        public Settings(String host, int port, Duration shutdownGrace, ConnectionLimits limits, Runnable onListenerLost,
                        Duration watchdogPeriod) {
            this(host, port, shutdownGrace, limits, onListenerLost, watchdogPeriod, TrustedProxies.none(), HttpsConfig.none());
        }

        public Settings(String host, int port, Duration shutdownGrace, ConnectionLimits limits) {
            this(host, port, shutdownGrace, limits, TrustedProxies.none());
        }

        public Settings(String host, int port, Duration shutdownGrace, ConnectionLimits limits, TrustedProxies trustedProxies) {
            this(host, port, shutdownGrace, limits, trustedProxies, HttpsConfig.none());
        }

        public Settings(String host, int port, Duration shutdownGrace, ConnectionLimits limits, TrustedProxies trustedProxies,
                        HttpsConfig https) {
            this(host, port, shutdownGrace, limits, EXIT_ON_LISTENER_LOST, Duration.ofSeconds(5), trustedProxies, https);
        }
    }

    /** A process with no listener is worse than none: exit 1 and let the platform (or systemd) start a new one. */
    public static final Runnable EXIT_ON_LISTENER_LOST = () -> Runtime.getRuntime().halt(1);

    public static HttpServer start(Settings settings, Consumer<Routes> registrar) {
        return start(settings, registrar, HttpMetrics.none());
    }

    /** Starts the server; every answer is also recorded in {@code metrics} (README "Observability"). */
    public static HttpServer start(Settings settings, Consumer<Routes> registrar, HttpMetrics metrics) {
        requireNonNull(metrics, "metrics is null");
        HttpRouting.Builder routing = HttpRouting.builder();
        Routes routes = new Routes(routing);
        TrustedProxies proxies = settings.trustedProxies();
        HttpsConfig https = settings.https();
        routing.addFilter((chain, request, response) -> filter(proxies, https, metrics, chain, request, response));
        registrar.accept(routes);
        routing.any((request, response) -> {
            Set<String> allowed = routes.allowedMethods(request);
            String method = request.prologue().method().text();
            if (allowed.isEmpty()) {
                throw new NotFound("no route for " + method + " " + request.path().path());
            }
            throw new MethodNotAllowed(method, request.path().path(), allowed);
        });
        routing.error(Throwable.class, (request, response, error) -> renderError(request, response, error, metrics));

        ClientDisconnects.install();
        long descriptorLimit = ConnectionLimits.descriptorLimit();
        ConnectionLimits limits = settings.limits().underDescriptorLimit(descriptorLimit);
        if (!limits.equals(settings.limits())) {
            log.warn("SILO_MAX_CONNECTIONS {} is above what {} file descriptors allow; using {}",
                    settings.limits().maxConnections(), descriptorLimit, limits.maxConnections());
        }
        // Raw [ and ] in query strings are what browsers and most clients send (filter[name]=Ada), but Helidon's
        // prologue validation refuses them with a bare 400; Silo checks the query itself (filter) and names the
        // parameter instead. The path is still validated by Helidon.
        ConnectionGuard guard = new ConnectionGuard(limits, Http1Config.builder()
                .validatePrologue(false)
                .maxPrologueLength(MAX_REQUEST_LINE_BYTES)
                .maxHeadersSize(MAX_HEADER_BYTES), proxies);
        // Read (and checked: a key that is not the certificate's) before the listener opens: a bad file fails the start.
        Optional<CertificateReloader.Versions> loadedVersions = settings.https().certificateFile()
                .map(file -> CertificateReloader.versions(file, settings.https().keyFile().orElseThrow()));
        Optional<ServerCertificate> certificate = settings.https().certificateFile()
                .map(file -> ServerCertificate.load(file, settings.https().keyFile().orElseThrow()));
        AtomicBoolean closing = new AtomicBoolean();
        WebServer server;
        try {
            boolean servesTls = certificate.isPresent();
            WebServerConfig.Builder builder = WebServer.builder();
            certificate.ifPresent(served -> builder.tls(served.tls()));
            server = builder
                    .host(settings.host())
                    .port(settings.port())
                    .maxPayloadSize(MAX_PAYLOAD_BYTES)
                    // Without TCP_NODELAY every response over one segment waits ~40 ms for the client's delayed ACK
                    // (Nagle); Helidon's default is off (issue 15.1).
                    .connectionOptions(SocketOptions.builder().tcpNoDelay(true).build())
                    .shutdownGracePeriod(settings.shutdownGrace())
                    // Silo owns the stop order (drain with readiness 503, then the listener, then PostgreSQL):
                    // Helidon's own JVM hook would close the listener the moment the JVM starts to exit.
                    .shutdownHook(false)
                    // Only the guarded HTTP/1.1 selector: no second candidate, so admission happens before any read.
                    .protocolsDiscoverServices(false)
                    .addConnectionSelector(guard)
                    // A hard ceiling under the descriptor limit: past it Helidon waits to accept instead of failing.
                    // The guard closes connections over its own cap at once, well before this is reached.
                    .maxTcpConnections(limits.maxConnections() + 64)
                    .idleConnectionTimeout(limits.idleTimeout())
                    .idleConnectionPeriod(Duration.ofMillis(Math.max(100, Math.min(5000, limits.idleTimeout().toMillis() / 4))))
                    .directHandlers(handlers -> {
                        for (DirectHandler.EventType type : DirectHandler.EventType.values()) {
                            handlers.addHandler(type, (request, event, status, headers, message) ->
                                    direct(servesTls, proxies, metrics, request, event, status, headers, message));
                        }
                    })
                    // Helidon passes its parser's message to the direct handlers only with this on; Silo reads it
                    // to tell an oversized header block (431) from other malformed heads, and never echoes it.
                    .errorHandling(errors -> errors.includeEntity(true))
                    .routing(routing)
                    .build()
                    .start();
        } catch (RuntimeException e) {
            guard.close();
            throw e;
        }
        if (server.port() < 0) {
            // Helidon logs a failed bind and returns a server without a listener: never run headless.
            server.stop();
            guard.close();
            throw new CannotListen(settings.host(), settings.port());
        }
        log.info("HTTP limits: {} connections, {} per client address, request head within {} s, idle keep-alive {} s",
                limits.maxConnections(), limits.maxConnectionsPerAddress(), limits.headerTimeout().toSeconds(),
                limits.idleTimeout().toSeconds());
        Optional<CertificateReloader> reloader = Optional.empty();
        if (certificate.isPresent()) {
            Path certificateFile = settings.https().certificateFile().orElseThrow();
            log.info("HTTPS (TLS 1.3 and 1.2) with the certificate in {}: {}, valid until {}; a renewed file is picked up "
                    + "within {} s", certificateFile, certificate.get().subject(), certificate.get().notAfter(),
                    settings.https().reloadPeriod().multipliedBy(2).toMillis() / 1000.0);
            reloader = Optional.of(CertificateReloader.start(certificateFile, settings.https().keyFile().orElseThrow(),
                    loadedVersions.orElseThrow(), server, settings.https().reloadPeriod()));
        }
        ListenerWatchdog watchdog = new ListenerWatchdog(settings.host(), server.port(), settings.watchdogPeriod(),
                closing::get, settings.onListenerLost());
        HttpServer started = new HttpServer(server, guard, watchdog, closing, reloader, certificate.isPresent(),
                routes.table());
        metrics.bind(started);
        return started;
    }

    /** The listener could not be opened (the port is in use, or binding it is not permitted). */
    public static final class CannotListen extends RuntimeException {
        private final String host;
        private final int port;

        CannotListen(String host, int port) {
            super("cannot listen on " + host + ":" + port, null, false, false);
            this.host = host;
            this.port = port;
        }

        public String host() {
            return host;
        }

        public int port() {
            return port;
        }
    }

    /** Client connections that ended in the middle of a request since start (one DEBUG line each). */
    public static long clientDisconnects() {
        return ClientDisconnects.count();
    }

    /** Connections closed at once because a connection limit was reached. */
    public long refusedConnections() {
        return guard.refusedConnections();
    }

    /** Connections closed because their request head did not arrive within the header timeout. */
    public long headTimeouts() {
        return guard.headTimeouts();
    }

    /** Connections open now. */
    public int openConnections() {
        return guard.openConnections();
    }

    /** Stops the WebServer as a failure would, without marking the server as closing (watchdog tests). */
    void stopListenerOnly() {
        server.stop();
    }

    public int port() {
        return server.port();
    }

    public boolean running() {
        return server.isRunning();
    }

    @Override
    public void close() {
        closing.set(true);
        reloader.ifPresent(CertificateReloader::close);
        watchdog.close();
        server.stop();
        guard.close();
    }

    private static Map<String, String> securityHeaders() {
        Map<String, String> headers = new LinkedHashMap<>();
        headers.put("X-Content-Type-Options", "nosniff");
        headers.put("Cache-Control", "no-store");
        headers.put("X-Frame-Options", "DENY");
        headers.put("Referrer-Policy", "no-referrer");
        headers.put("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
        return Map.copyOf(headers);
    }

    private static void filter(TrustedProxies proxies, HttpsConfig https, HttpMetrics metrics, FilterChain chain,
                               RoutingRequest request, RoutingResponse response) {
        long started = System.nanoTime();
        InetAddress peer = request.remotePeer().address() instanceof InetSocketAddress socket && socket.getAddress() != null
                ? socket.getAddress() : InetAddress.getLoopbackAddress();
        TrustedProxies.Client client = proxies.resolve(peer, request.headers().all(X_FORWARDED_FOR, List::of),
                request.headers().all(FORWARDED, List::of), request.headers().all(X_FORWARDED_PROTO, List::of));
        request.context().register(CLIENT_KEY, client);
        String offered = request.headers().first(HeaderNames.create(RequestIds.HEADER)).orElse(null);
        String requestId = RequestIds.wellFormed(offered) ? offered : RequestIds.generate();
        request.context().register(RequestIds.MDC_KEY, requestId);
        MDC.put(RequestIds.MDC_KEY, requestId);
        response.header(RequestIds.HEADER, requestId);
        SECURITY_HEADERS.forEach(response::header);
        try {
            boolean overHttps = request.isSecure() || client.scheme().filter("https"::equalsIgnoreCase).isPresent();
            if (overHttps) {
                response.header(STRICT_TRANSPORT_SECURITY, HSTS);
            }
            checkHeaders(request);
            if (!overHttps && https.requireHttps() && !PLAIN_HTTP_PATHS.contains(request.path().path())
                    && PlainHttp.refuse(request, response, https.redirectHost())) {
                return;
            }
            QueryStrings.check(request.prologue().query().rawValue());
            chain.proceed();
        } catch (Throwable error) {
            renderError(request, response, error, metrics);
        } finally {
            if (!request.context().get(DISCONNECTED_KEY, Boolean.class).orElse(false)) {
                logRequest(metrics, request.prologue().method().text(), Routes.routeOf(request), response.status().code(), started,
                        client.address().getHostAddress());
            }
            MDC.remove(RequestIds.MDC_KEY);
            RequestTenant.clear();
            if (request.headers().containsToken(HeaderValues.CONNECTION_CLOSE)) {
                ConnectionGuard.closeAfterThisRequest();
            }
        }
    }

    /**
     * Checks every route needs, before any handler: one {@code Authorization} header at most (with two, which one
     * a proxy, a cache and Silo each read is anybody's guess; RFC 9110 section 5.3 allows a list only where the
     * field is defined as one).
     */
    private static void checkHeaders(ServerRequest request) {
        if (request.headers().size() > MAX_HEADER_COUNT) {
            throw new HeadersTooLarge("the request has " + request.headers().size() + " header fields; at most "
                    + MAX_HEADER_COUNT + " are accepted");
        }
        if (request.headers().all(HeaderNames.AUTHORIZATION, List::of).size() > 1) {
            throw new BadRequest("duplicate-header", "the request has more than one Authorization header; send exactly one",
                    Map.of("header", "Authorization"));
        }
    }

    private static void logRequest(HttpMetrics metrics, String method, String route, int status, long startedNanos,
                                   String clientIp) {
        long nanos = System.nanoTime() - startedNanos;
        metrics.record(route, method, status, nanos);
        long micros = nanos / 1000;
        apiLog.atInfo()
                .addKeyValue("method", method)
                .addKeyValue("route", route)
                .addKeyValue("status", status)
                .addKeyValue("duration_ms", micros / 1000.0)
                .addKeyValue("client_ip", clientIp)
                .log("{} {} {} {}ms", method, route, status, micros / 1000.0);
    }

    private static void renderError(ServerRequest request, io.helidon.webserver.http.ServerResponse response, Throwable error,
                                    HttpMetrics metrics) {
        String requestId = request.context().get(RequestIds.MDC_KEY, String.class).orElse(null);
        String instance = request.path().path();
        Optional<Unavailable> databaseDown = error instanceof Problem ? Optional.empty() : DatabaseFailures.asUnavailable(error);
        if (error instanceof Problem problem) {
            if ((problem.status() == 429 || problem.status() == 503) && !response.isSent()) {
                metrics.refused(problem.type());
            }
            ProblemRenderer.render(response, problem, instance, requestId);
        } else if (databaseDown.isPresent()) {
            metrics.refused(databaseDown.get().type());
            // The database could not be reached, whoever wrapped the exception: a 503 the client may retry, not a 500.
            log.warn("Database unreachable in {} {} (request {}; {})", request.prologue().method().text(), instance, requestId,
                    error.getClass().getSimpleName());
            ProblemRenderer.render(response, databaseDown.get(), instance, requestId);
        } else if (error instanceof RequestException requestException && requestException.status().code() < 500) {
            ProblemRenderer.render(response, frameworkProblem(requestException.status()), instance, requestId);
        } else if (error instanceof HttpException httpException && httpException.status().code() < 500) {
            ProblemRenderer.render(response, frameworkProblem(httpException.status()), instance, requestId);
        } else if (ClientDisconnects.isDisconnect(error)) {
            // The client closed the connection while sending the body (or before reading the answer): nobody to
            // answer, nothing to debug. One short line, no stack trace.
            request.context().register(DISCONNECTED_KEY, true);
            ClientDisconnects.record("during " + request.prologue().method().text() + " " + Routes.routeOf(request), requestId);
            try {
                // A client that only half-closed can still read this; Helidon would otherwise answer a 500.
                ProblemRenderer.render(response, new BadRequest("incomplete-request",
                        "the connection ended before the whole request body arrived"), instance, requestId);
            } catch (RuntimeException gone) {
                // nobody is listening any more
            }
        } else {
            // Once per 500: this line is what an error report (ErrorReports) is made of; the route template and the
            // method as key-values, since the message's raw path never leaves in one.
            log.atError().addKeyValue("route", Routes.routeOf(request)).addKeyValue("method", request.prologue().method().text())
                    .setCause(error)
                    .log("Unhandled error in {} {} (request {})", request.prologue().method().text(), instance, requestId);
            ProblemRenderer.renderInternalError(response, instance, requestId);
        }
    }

    private static Problem frameworkProblem(Status status) {
        return switch (status.code()) {
            case 413 -> new PayloadTooLarge("the request body is larger than " + MAX_PAYLOAD_BYTES + " bytes");
            case 404 -> new NotFound("not found");
            default -> new BadRequest("the request is malformed (" + ProblemRenderer.title(status.code()).toLowerCase(Locale.ROOT) + ")");
        };
    }

    /**
     * Answers what Helidon refuses before routing (bad framing, a body over the limit, a URI or header block too
     * long, HTTP/1.0): the same problem body, request id, security headers and {@code api} line as a routed request.
     */
    private static DirectHandler.TransportResponse direct(boolean servesTls, TrustedProxies proxies, HttpMetrics metrics,
                                                          DirectHandler.TransportRequest request,
                                                          DirectHandler.EventType type,
                                                          Status reported, io.helidon.http.ServerResponseHeaders headers,
                                                          String message) {
        long started = System.nanoTime();
        String requestId = RequestIds.generate();
        // Helidon's parser reports a header block over maxHeadersSize as a plain 400; RFC 6585 has the status that
        // tells the client what to shorten.
        Status status = reported.code() == 400 && message != null && message.contains(HEADER_SIZE_EXCEEDED)
                ? Status.create(431, "Request Header Fields Too Large") : reported;
        String name = switch (status.code()) {
            case 413 -> "payload-too-large";
            case 414 -> "uri-too-long";
            case 431 -> "header-too-large";
            case 403 -> "forbidden";
            case 501 -> "not-implemented";
            case 503 -> "busy";
            case 505 -> "http-version-not-supported";
            default -> status.code() >= 500 ? "internal-error" : "bad-request";
        };
        String detail = switch (status.code()) {
            case 413 -> "the request body is larger than " + MAX_PAYLOAD_BYTES + " bytes";
            case 414 -> "the request line is too long; shorten the URI";
            case 431 -> "the request header block is larger than " + MAX_HEADER_BYTES + " bytes; send fewer or shorter header fields";
            case 505 -> "Silo speaks HTTP/1.1; this request was "
                    + (request.protocolVersion() == null || request.protocolVersion().isBlank() ? "of another version"
                    : request.protocolVersion()) + ": send HTTP/1.1 (health checkers included)";
            case 501 -> "this transfer encoding is not supported; send Content-Length or Transfer-Encoding: chunked";
            case 503 -> "the server is busy; retry shortly";
            default -> status.code() >= 500
                    ? "an unexpected error occurred; quote request id " + requestId + " when reporting it"
                    : "the request is not valid HTTP/1.1: check the request line, the header syntax and the header sizes";
        };
        String method = request.method() == null || request.method().isBlank() ? "-" : request.method();
        // When Helidon had read the header block (a body over the limit, bad framing), a trusted proxy's forwarded
        // client and scheme are known as for a routed request; before that, only the TCP peer is.
        Optional<TrustedProxies.Client> forwarded = ConnectionGuard.currentPeer().map(peer -> {
            io.helidon.http.ServerRequestHeaders read = request.headers();
            if (read == null) {
                return proxies.resolve(peer, List.of(), List.of(), List.of());
            }
            return proxies.resolve(peer, read.all(X_FORWARDED_FOR, List::of), read.all(FORWARDED, List::of),
                    read.all(X_FORWARDED_PROTO, List::of));
        });
        String client = forwarded.map(resolved -> resolved.address().getHostAddress()).orElseGet(ConnectionGuard::currentClient);
        boolean overHttps = servesTls || forwarded.flatMap(TrustedProxies.Client::scheme).filter("https"::equals).isPresent();
        MDC.put(RequestIds.MDC_KEY, requestId);
        if (type == DirectHandler.EventType.INTERNAL_ERROR) {
            // Nearly always a client that closed the connection inside the request head; ClientDisconnects decides
            // once Helidon reports the cause, and only a real fault gets the api line and a logged error.
            ClientDisconnects.markPending(requestId, () -> {
                MDC.put(RequestIds.MDC_KEY, requestId);
                log.error("Connection-level error (request {}): {}", requestId, message);
                logRequest(metrics, method, "(malformed)", status.code(), started, client);
                MDC.remove(RequestIds.MDC_KEY);
            });
        } else {
            logRequest(metrics, method, "(malformed)", status.code(), started, client);
        }
        if (status.code() == 503) {
            metrics.refused(name);
        }
        MDC.remove(RequestIds.MDC_KEY);
        DirectHandler.TransportResponse.Builder response = DirectHandler.TransportResponse.builder()
                .status(status)
                .headers(headers)
                .header(HeaderNames.CONTENT_TYPE, ProblemRenderer.CONTENT_TYPE)
                .header(HeaderNames.create(RequestIds.HEADER), requestId);
        SECURITY_HEADERS.forEach((header, value) -> response.header(HeaderNames.create(header), value));
        if (overHttps) {
            // Every connection of a TLS listener is TLS; behind a trusted proxy, its X-Forwarded-Proto when the
            // header block was read (an answer to a block too large to read goes without: nothing says https).
            response.header(STRICT_TRANSPORT_SECURITY, HSTS);
        }
        return response
                .entity(ProblemRenderer.body(status.code(), Problem.TYPE_BASE + name, ProblemRenderer.title(status.code()),
                        detail, null, requestId, Map.of()))
                .build();
    }

    /** Key in the request context: the client went away mid-request, and its one log line is already written. */
    private static final String DISCONNECTED_KEY = "silo.disconnected";
    /** What Helidon's header parser says when the block is over {@code maxHeadersSize} (Http1HeadersParser). */
    private static final String HEADER_SIZE_EXCEEDED = "Header size exceeded";
    private static final String CLIENT_KEY = "silo.client";
    private static final io.helidon.http.HeaderName X_FORWARDED_FOR = HeaderNames.create("X-Forwarded-For");
    private static final io.helidon.http.HeaderName X_FORWARDED_PROTO = HeaderNames.create("X-Forwarded-Proto");
    private static final io.helidon.http.HeaderName FORWARDED = HeaderNames.create("Forwarded");

    /**
     * The client of this request: the TCP peer, or, when that is a trusted proxy ({@code SILO_TRUSTED_PROXIES}),
     * the address it forwarded for. Throttles, audit entries, the {@code api} line and sessions all use this.
     */
    public static InetAddress clientAddress(ServerRequest request) {
        return request.context().get(CLIENT_KEY, TrustedProxies.Client.class).map(TrustedProxies.Client::address)
                .orElseGet(() -> request.remotePeer().address() instanceof InetSocketAddress socket && socket.getAddress() != null
                        ? socket.getAddress() : InetAddress.getLoopbackAddress());
    }

    /** The scheme the client used, when a trusted proxy said ({@code X-Forwarded-Proto}); else empty. */
    public static Optional<String> forwardedScheme(ServerRequest request) {
        return request.context().get(CLIENT_KEY, TrustedProxies.Client.class).flatMap(TrustedProxies.Client::scheme);
    }
}
