package dev.silo.logs;

import dev.silo.operator.OperatorAuth;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;
import dev.silo.platform.log.tail.LogTail;
import dev.silo.platform.log.tail.TailLine;
import dev.silo.platform.problem.BadRequest;
import dev.silo.tenant.TenantService;
import io.helidon.common.media.type.MediaTypes;
import io.helidon.http.sse.SseEvent;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.sse.SseSink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

import static java.util.Objects.requireNonNull;

/**
 * The live tail (claim C21): {@code GET /admin/logs} answers the buffered lines (the last 1,000 of the process) as
 * JSON; {@code GET /admin/logs/tail} streams them as server-sent events, then every new line as it is logged, until
 * the client leaves or the node stops. Both take {@code stream=api|app|system} and {@code tenant=SLUG} and need an
 * operator key, like every {@code /admin} route.
 *
 * <p>Events: {@code line} (data: the line as JSON, id: its sequence number), {@code dropped} (data:
 * {@code {"dropped": N}}: N lines were skipped because this client read too slowly; logging never waits for it),
 * and a comment every {@link #KEEP_ALIVE} so that routers keep an idle stream open and a gone client is noticed.
 */
public final class LogTailRoutes implements AutoCloseable {
    static final Duration KEEP_ALIVE = Duration.ofSeconds(15);
    private static final Set<String> STREAMS = Set.of("api", "app", "system");
    private static final Logger log = LoggerFactory.getLogger(LogTailRoutes.class);

    private final OperatorAuth auth;
    private final LogTail tail;
    private final Set<LogTail.Subscription> following = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    public LogTailRoutes(OperatorAuth auth, LogTail tail) {
        this.auth = requireNonNull(auth, "auth is null");
        this.tail = requireNonNull(tail, "tail is null");
    }

    public void register(Routes routes) {
        routes.get("/admin/logs", (request, response) -> {
            auth.require(request);
            Predicate<TailLine> filter = filter(request);
            List<Map<String, Object>> lines = tail.buffered(filter).stream().map(TailLine::fields).toList();
            Json.ok(response, Map.of("lines", lines));
        });
        routes.get("/admin/logs/tail", (request, response) -> {
            auth.require(request);
            Predicate<TailLine> filter = filter(request);
            if (!request.headers().isAccepted(MediaTypes.TEXT_EVENT_STREAM)) {
                throw new BadRequest("not-acceptable", "this route answers server-sent events: send Accept: text/event-stream");
            }
            if (closed) {
                throw new dev.silo.platform.problem.Unavailable("stopping", "the node is stopping", Duration.ofSeconds(1));
            }
            try (LogTail.Subscription subscription = tail.subscribe(filter);
                 SseSink sink = response.sink(SseSink.TYPE)) {
                following.add(subscription);
                try {
                    follow(subscription, sink);
                } finally {
                    following.remove(subscription);
                }
            } catch (UncheckedIOException | io.helidon.webserver.ServerConnectionException gone) {
                // the client went away: nothing to answer
                log.debug("A log tail client left: {}", gone.toString());
            }
        });
    }

    private void follow(LogTail.Subscription subscription, SseSink sink) throws InterruptedException {
        for (TailLine line : subscription.backlog()) {
            sink.emit(event(line));
        }
        sink.emit(SseEvent.builder().comment("the buffered lines end here; new lines follow as they are logged").build());
        while (!closed && !subscription.closed()) {
            Optional<TailLine> line = subscription.next(KEEP_ALIVE);
            long dropped = subscription.takeDropped();
            if (dropped > 0) {
                sink.emit(SseEvent.builder().name("dropped").data("{\"dropped\":" + dropped + "}").build());
            }
            if (line.isPresent()) {
                sink.emit(event(line.get()));
            } else if (!closed) {
                sink.emit(SseEvent.builder().comment("keep-alive").build());
            }
        }
    }

    private static SseEvent event(TailLine line) {
        return SseEvent.builder().id(Long.toString(line.seq())).name("line").data(line.json()).build();
    }

    private static Predicate<TailLine> filter(ServerRequest request) {
        Optional<String> stream = request.query().first("stream").asOptional();
        if (stream.isPresent() && !STREAMS.contains(stream.get())) {
            throw new BadRequest("invalid-parameter", "'stream' must be api, app or system", Map.of("parameter", "stream"));
        }
        Optional<String> tenant = request.query().first("tenant").asOptional();
        if (tenant.isPresent() && !TenantService.SLUG.matcher(tenant.get()).matches()) {
            throw new BadRequest("invalid-parameter", "'tenant' must be a tenant slug", Map.of("parameter", "tenant"));
        }
        return line -> stream.map(wanted -> wanted.equals(line.stream())).orElse(true)
                && tenant.map(wanted -> wanted.equals(line.tenant())).orElse(true);
    }

    /** Ends every stream (a comment-less close): the HTTP server can then stop without waiting for tail clients. */
    @Override
    public void close() {
        closed = true;
        following.forEach(LogTail.Subscription::close);
    }
}
