package dev.silo.records;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.silo.auth.Caller;
import dev.silo.auth.TenantRequests;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;
import dev.silo.platform.problem.BadRequest;
import dev.silo.platform.problem.NotFound;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * The Records API: collections (admins), records (members and admins), and the tenant's NDJSON export (admins).
 * The data routes take {@link TenantRequests#dataCaller}: an operator under a staff-access grant reads (and with a
 * read-write grant writes) records, never manages collections or exports.
 */
public final class RecordRoutes {
    private static final Logger log = LoggerFactory.getLogger(RecordRoutes.class);
    private static final Pattern FILTER = Pattern.compile("filter\\[(.{1,256})]", Pattern.DOTALL);
    private static final Pattern STRONG_ETAG = Pattern.compile("\"(\\d{1,18})\"");
    private static final Set<String> LIST_PARAMETERS = Set.of("sort", "limit", "cursor");
    static final String MERGE_PATCH = "application/merge-patch+json";

    private final TenantRequests requests;
    private final RecordService records;

    public RecordRoutes(TenantRequests requests, RecordService records) {
        this.requests = requireNonNull(requests, "requests is null");
        this.records = requireNonNull(records, "records is null");
    }

    public void register(Routes routes) {
        routes.get("/t/{tenant}/collections", (request, response) -> {
            Caller caller = requests.dataCaller(request);
            Json.ok(response, Map.of("collections", records.listCollections(caller).stream().map(RecordCollection::view).toList()));
        });
        routes.put("/t/{tenant}/collections/{name}", (request, response) -> {
            Caller caller = requests.admin(request);
            byte[] body = body(request);
            Optional<Schema> schema = body.length == 0 ? Optional.empty() : schemaOf(RecordValues.parseObject(body));
            RecordService.PutResult result = records.putCollection(caller, name(request), schema);
            Json.send(response, result.created() ? Status.CREATED_201 : Status.OK_200, result.collection().view());
        });
        routes.get("/t/{tenant}/collections/{name}", (request, response) -> {
            Caller caller = requests.dataCaller(request);
            Json.ok(response, records.getCollection(caller, name(request)).view());
        });
        routes.delete("/t/{tenant}/collections/{name}", (request, response) -> {
            Caller caller = requests.admin(request);
            String force = request.query().first("force").orElse("false");
            if (!force.equals("true") && !force.equals("false")) {
                throw new BadRequest("invalid-parameter", "'force' must be true or false");
            }
            records.deleteCollection(caller, name(request), force.equals("true"));
            response.status(Status.NO_CONTENT_204).send();
        });

        routes.post("/t/{tenant}/collections/{name}/records", (request, response) -> {
            Caller caller = requests.dataCaller(request);
            StoredRecord record = records.create(caller, name(request), RecordValues.parseObject(body(request)));
            requests.staffResult(caller, request, List.of(record.id().toString()));
            response.header(HeaderNames.LOCATION, "/t/" + caller.tenant().slug() + "/collections/" + record.collection()
                    + "/records/" + record.id());
            send(response, Status.CREATED_201, record);
        });
        routes.get("/t/{tenant}/collections/{name}/records", (request, response) -> {
            Caller caller = requests.dataCaller(request);
            RecordService.Page page = records.list(caller, name(request), query(request));
            requests.staffResult(caller, request, page.records().stream().map(record -> record.id().toString()).toList());
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("records", page.records().stream().map(StoredRecord::view).toList());
            body.put("next_cursor", page.nextCursor());
            Json.ok(response, body);
        });
        routes.get("/t/{tenant}/collections/{name}/records/{id}", (request, response) -> {
            Caller caller = requests.dataCaller(request);
            send(response, Status.OK_200, records.get(caller, name(request), id(request)));
        });
        routes.put("/t/{tenant}/collections/{name}/records/{id}", (request, response) -> {
            Caller caller = requests.dataCaller(request);
            List<Long> expected = ifMatch(request);
            ObjectNode data = RecordValues.parseObject(body(request));
            send(response, Status.OK_200, records.replace(caller, name(request), id(request), expected, data));
        });
        routes.patch("/t/{tenant}/collections/{name}/records/{id}", (request, response) -> {
            Caller caller = requests.dataCaller(request);
            String contentType = request.headers().first(HeaderNames.CONTENT_TYPE).orElse("");
            if (!contentType.toLowerCase(Locale.ROOT).split(";", 2)[0].strip().equals(MERGE_PATCH)) {
                throw new dev.silo.platform.problem.UnsupportedMediaType("PATCH takes a JSON Merge Patch (RFC 7396) with Content-Type "
                        + MERGE_PATCH);
            }
            List<Long> expected = ifMatch(request);
            ObjectNode patch = RecordValues.parseObject(body(request));
            send(response, Status.OK_200, records.patch(caller, name(request), id(request), expected, patch));
        });
        routes.delete("/t/{tenant}/collections/{name}/records/{id}", (request, response) -> {
            Caller caller = requests.dataCaller(request);
            List<Long> expected = ifMatch(request);
            records.delete(caller, name(request), id(request), expected);
            response.status(Status.NO_CONTENT_204).send();
        });

        routes.get("/t/{tenant}/export", (request, response) -> {
            Caller caller = requests.admin(request);
            response.header(HeaderNames.CONTENT_TYPE, "application/x-ndjson");
            response.header("Content-Disposition", "attachment; filename=\"" + caller.tenant().slug() + "-export.ndjson\"");
            LazyStream out = new LazyStream(response);
            try {
                records.export(caller, out);
            } catch (UncheckedIOException e) {
                log.info("Export of tenant {} stopped: the client went away ({})", caller.tenant(), e.getCause().toString());
                return;
            } catch (RuntimeException e) {
                if (out.opened()) {
                    // the status is sent; ending the stream without the "end" line tells the client it is incomplete
                    log.error("Export of tenant {} failed after it started", caller.tenant(), e);
                    out.abort();
                    return;
                }
                throw e;
            }
            out.close();
        });
    }

    private static void send(ServerResponse response, Status status, StoredRecord record) {
        response.header(HeaderNames.ETAG, record.etag());
        Json.send(response, status, record.view());
    }

    private static byte[] body(ServerRequest request) {
        return Json.bodyOf(request); // 415 for a body that is not JSON by its Content-Type
    }

    private static Optional<Schema> schemaOf(ObjectNode body) {
        return body.isEmpty() ? Optional.empty() : Optional.of(Schema.parse(body));
    }

    private static String name(ServerRequest request) {
        String name = request.path().pathParameters().get("name");
        RecordService.checkCollectionName(name);
        return name;
    }

    private static UUID id(ServerRequest request) {
        String value = request.path().pathParameters().get("id");
        try {
            if (value.length() == 36) {
                return UUID.fromString(value);
            }
        } catch (IllegalArgumentException e) {
            // reported below
        }
        throw new NotFound("record-not-found", "no record '" + RecordValues.shorten(value) + "': record ids are UUIDs");
    }

    /**
     * The versions an If-Match header accepts (RFC 9110 section 13.1.1, strong comparison: a weak tag never matches).
     * Missing is a 428; {@code *} is refused too, as it would let a writer overwrite a change it never saw.
     */
    static List<Long> ifMatch(ServerRequest request) {
        List<String> headers = request.headers().all(HeaderNames.IF_MATCH, List::of);
        if (headers.isEmpty()) {
            throw new dev.silo.platform.problem.PreconditionRequired("this write needs If-Match with the ETag of the version you read, "
                    + "so that concurrent writers cannot overwrite each other's changes");
        }
        List<Long> versions = new ArrayList<>();
        for (String header : headers) {
            for (String tag : header.split(",")) {
                String trimmed = tag.strip();
                if (trimmed.equals("*")) {
                    throw new dev.silo.platform.problem.PreconditionRequired("If-Match: * is not accepted: send the ETag of the version you read");
                }
                if (trimmed.startsWith("W/")) {
                    continue;
                }
                Matcher matcher = STRONG_ETAG.matcher(trimmed);
                if (!matcher.matches()) {
                    throw new BadRequest("invalid-if-match", "If-Match must hold ETags as returned by this API, such as \"3\"");
                }
                versions.add(Long.parseLong(matcher.group(1)));
            }
        }
        return versions;
    }

    private static RecordQuery query(ServerRequest request) {
        Map<String, String> filters = new LinkedHashMap<>();
        for (String name : request.query().names()) {
            List<String> values = request.query().all(name);
            Matcher filter = FILTER.matcher(name);
            if (filter.matches()) {
                if (values.size() != 1) {
                    throw new BadRequest("invalid-filter", "filter on '" + RecordValues.shorten(filter.group(1))
                            + "' is given more than once; filters are equalities, one value per field");
                }
                filters.put(filter.group(1), values.getFirst());
            } else if (!LIST_PARAMETERS.contains(name)) {
                throw new BadRequest("invalid-parameter", "unknown query parameter '" + RecordValues.shorten(name)
                        + "'; a listing takes filter[field]=value, sort, limit and cursor");
            } else if (values.size() != 1) {
                throw new BadRequest("invalid-parameter", "'" + name + "' is given more than once");
            }
        }
        String sort = request.query().first("sort").orElse("created_at");
        return new RecordQuery(filters, sort, TenantRequests.limit(request, 50, 1000), request.query().first("cursor").asOptional());
    }

    /** The response body, opened on the first write: a failure before any output still answers a proper problem. */
    private static final class LazyStream extends OutputStream {
        private final ServerResponse response;
        private OutputStream out;

        LazyStream(ServerResponse response) {
            this.response = response;
        }

        boolean opened() {
            return out != null;
        }

        private OutputStream out() {
            if (out == null) {
                out = new java.io.BufferedOutputStream(response.outputStream(), 64 * 1024);
            }
            return out;
        }

        @Override
        public void write(int b) throws IOException {
            out().write(b);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            out().write(bytes, offset, length);
        }

        @Override
        public void flush() throws IOException {
            if (out != null) {
                out.flush();
            }
        }

        @Override
        public void close() throws IOException {
            out().close();
        }

        void abort() {
            try {
                out.close();
            } catch (IOException | RuntimeException e) {
                // the connection is gone either way
            }
        }
    }
}
