package dev.silo.testing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.platform.http.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * The JDK HttpClient against a real server, with JSON bodies parsed for assertions. Every exchange is checked
 * against the OpenAPI document ({@link ApiContract}): a response the document does not describe fails the test.
 */
public final class TestingHttp {
    private static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final URI base;
    private final String bearer;
    private final boolean checked;

    public TestingHttp(URI base) {
        this(base, null);
    }

    public TestingHttp(URI base, String bearer) {
        this(base, bearer, true);
    }

    private TestingHttp(URI base, String bearer, boolean checked) {
        this.base = base;
        this.bearer = bearer;
        this.checked = checked;
    }

    /** The same client sending {@code Authorization: Bearer token} on every request. */
    public TestingHttp withBearer(String token) {
        return new TestingHttp(base, token, checked);
    }

    /**
     * The same client without the OpenAPI check, for a test that breaks the server on purpose (a table sabotaged
     * so that a route answers 500): what it provokes is outside the contract by design. Nothing else uses it.
     */
    public TestingHttp outsideContract() {
        return new TestingHttp(base, bearer, false);
    }

    public record Response(int status, java.net.http.HttpHeaders headers, String body) {
        public JsonNode json() {
            try {
                return Json.MAPPER.readTree(body);
            } catch (IOException e) {
                throw new UncheckedIOException("not JSON: " + body, e);
            }
        }

        public String header(String name) {
            return headers.firstValue(name).orElse(null);
        }

        public String contentType() {
            return header("Content-Type");
        }
    }

    public HttpRequest.Builder request(String path) {
        HttpRequest.Builder builder = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60));
        return bearer == null ? builder : builder.header("Authorization", "Bearer " + bearer);
    }

    public Response delete(String path) {
        return send(request(path).DELETE().build());
    }

    public Response get(String path) {
        return send(request(path).GET().build());
    }

    public Response post(String path, String json) {
        return send(request(path).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json)).build());
    }

    /**
     * The request body, read again from its publisher (the JDK's string and byte-array publishers can be read more
     * than once); null when there is none or it cannot be read without side effects.
     */
    static String bodyOf(HttpRequest request) {
        if (request.bodyPublisher().isEmpty() || request.bodyPublisher().get().contentLength() <= 0) {
            return null;
        }
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        java.util.concurrent.CompletableFuture<Void> done = new java.util.concurrent.CompletableFuture<>();
        request.bodyPublisher().get().subscribe(new java.util.concurrent.Flow.Subscriber<>() {
            @Override
            public void onSubscribe(java.util.concurrent.Flow.Subscription subscription) {
                subscription.request(Long.MAX_VALUE);
            }

            @Override
            public void onNext(java.nio.ByteBuffer item) {
                byte[] chunk = new byte[item.remaining()];
                item.get(chunk);
                bytes.writeBytes(chunk);
            }

            @Override
            public void onError(Throwable throwable) {
                done.completeExceptionally(throwable);
            }

            @Override
            public void onComplete() {
                done.complete(null);
            }
        });
        // The in-memory publishers complete inside subscribe; anything else (a file, a stream) is not read here.
        return done.isDone() && !done.isCompletedExceptionally() ? bytes.toString(java.nio.charset.StandardCharsets.UTF_8) : null;
    }

    public Response send(HttpRequest request) {
        try {
            HttpResponse<String> response = CLIENT.send(request, HttpResponse.BodyHandlers.ofString());
            if (checked) {
                ApiContract.get().check(new ApiContract.Exchange(request.method(), request.uri().getRawPath(),
                        request.headers().firstValue("Content-Type").orElse(null), bodyOf(request), response.statusCode(),
                        response.headers().firstValue("Content-Type").orElse(null), response.body()));
            }
            return new Response(response.statusCode(), response.headers(), response.body());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
