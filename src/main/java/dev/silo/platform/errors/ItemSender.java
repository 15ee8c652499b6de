package dev.silo.platform.errors;

import com.rollbar.api.payload.Payload;
import com.rollbar.notifier.sender.Sender;
import com.rollbar.notifier.sender.json.JsonSerializer;
import com.rollbar.notifier.sender.json.JsonSerializerImpl;
import com.rollbar.notifier.sender.listener.SenderListener;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static java.util.Objects.requireNonNull;

/**
 * Posts one item to Rollbar's item API ({@code POST /api/1/item/}, the token in {@code X-Rollbar-Access-Token}),
 * with the SDK's JSON serializer, on the caller's thread, which is {@link ErrorReports}' worker and never a request.
 * The SDK's own {@code SyncSender} uses {@code HttpURLConnection} without timeouts: an endpoint that accepts and
 * never answers would hold the worker for ever, so this one has a connect and a request timeout.
 */
final class ItemSender implements Sender {
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(10);

    /** The outcome of one post, for the reporter's counts and its one warning a minute. */
    record Outcome(boolean delivered, String problem) {}

    private final URI endpoint;
    private final String accessToken;
    private final HttpClient client;
    private final JsonSerializer json = new JsonSerializerImpl();
    private final List<SenderListener> listeners = new CopyOnWriteArrayList<>();
    private volatile Outcome last = new Outcome(true, null);

    ItemSender(URI endpoint, String accessToken) {
        this.endpoint = requireNonNull(endpoint, "endpoint is null");
        this.accessToken = requireNonNull(accessToken, "accessToken is null");
        this.client = HttpClient.newBuilder().connectTimeout(CONNECT_TIMEOUT)
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    @Override
    public void send(Payload payload) {
        byte[] body = json.toJson(payload).getBytes(StandardCharsets.UTF_8);
        HttpRequest request = HttpRequest.newBuilder(endpoint).timeout(REQUEST_TIMEOUT)
                .header("Content-Type", "application/json; charset=utf-8")
                .header("Accept", "application/json")
                .header("X-Rollbar-Access-Token", accessToken)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
        try {
            HttpResponse<Void> response = client.send(request, HttpResponse.BodyHandlers.discarding());
            // The answer's body is not read or logged: it is Rollbar's, and says nothing the status does not.
            last = response.statusCode() / 100 == 2 ? new Outcome(true, null)
                    : new Outcome(false, "answered HTTP " + response.statusCode());
        } catch (IOException e) {
            last = new Outcome(false, e.getClass().getSimpleName());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            last = new Outcome(false, "interrupted");
        }
    }

    /** Before each item: an item the notifier failed to build (and so never sent) must not count as delivered. */
    void expectSend() {
        last = new Outcome(false, "not sent");
    }

    /** What the latest {@link #send} came to (the worker reads it right after each send). */
    Outcome lastOutcome() {
        return last;
    }

    @Override
    public void addListener(SenderListener listener) {
        listeners.add(listener);
    }

    @Override
    public List<SenderListener> getListeners() {
        return listeners;
    }

    @Override
    public void close(boolean wait) {
        client.close();
    }

    @Override
    public void close() {
        close(false);
    }
}
