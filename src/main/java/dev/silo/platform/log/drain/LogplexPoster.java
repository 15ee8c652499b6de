package dev.silo.platform.log.drain;

import dev.silo.platform.config.LogDrainSettings;

import javax.net.ssl.SSLContext;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

import static java.util.Objects.requireNonNull;

/**
 * An HTTPS drain in the form Heroku's Logplex posts (its {@code http_drains} document): each batch is one
 * {@code POST} with {@code Content-Type: application/logplex-1}, a body of octet-counted RFC 5424 messages, and the
 * headers {@code Logplex-Msg-Count} (messages in the body), {@code Logplex-Frame-Id} (unique per post, so a receiver
 * can spot a duplicate) and {@code Logplex-Drain-Token}. Heroku assigns a drain its token; Silo derives a stable
 * {@code d.<uuid>} from the drain's host, port and path, so a receiver can tell drains apart. A user and password in
 * the URL are sent as HTTP Basic authorization, as Logplex does. Unlike Logplex's, the messages carry RFC 5424's
 * STRUCTURED-DATA field ({@code -} or the request id).
 *
 * <p>Any answer but 2xx fails the batch (at most once: it is counted as dropped, not posted again).
 */
final class LogplexPoster implements DrainTransport {
    static final Duration TIMEOUT = Duration.ofSeconds(30);

    private final URI target;
    private final Optional<String> authorization;
    private final String drainToken;
    private final HttpClient client;

    LogplexPoster(LogDrainSettings.Drain drain, SSLContext tls) {
        requireNonNull(drain, "drain is null");
        URI uri = drain.uri();
        try {
            String path = uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath();
            this.target = new URI("https://" + (drain.host().contains(":") ? "[" + drain.host() + "]" : drain.host()) + ":"
                    + drain.port() + path + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery()));
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("drain " + drain.display() + " has a malformed path or query");
        }
        this.authorization = Optional.ofNullable(uri.getRawUserInfo()).map(userInfo -> {
            int colon = userInfo.indexOf(':');
            String user = URLDecoder.decode(colon < 0 ? userInfo : userInfo.substring(0, colon), StandardCharsets.UTF_8);
            String password = colon < 0 ? "" : URLDecoder.decode(userInfo.substring(colon + 1), StandardCharsets.UTF_8);
            return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        });
        this.drainToken = "d." + UUID.nameUUIDFromBytes((drain.host() + ":" + drain.port() + (uri.getRawPath() == null ? ""
                : uri.getRawPath())).getBytes(StandardCharsets.UTF_8));
        this.client = HttpClient.newBuilder()
                .sslContext(requireNonNull(tls, "tls is null"))
                .connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NEVER)
                .version(HttpClient.Version.HTTP_1_1)
                .build();
    }

    String drainToken() {
        return drainToken;
    }

    @Override
    public boolean connected() {
        return true;
    }

    @Override
    public void connect() {
        // each post opens (or reuses) a connection of the client's pool
    }

    @Override
    public void send(List<byte[]> messages) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream(messages.size() * 400);
        for (byte[] message : messages) {
            SyslogFormat.frame(body, message);
        }
        byte[] frameId = new byte[16];
        ThreadLocalRandom.current().nextBytes(frameId);
        HttpRequest.Builder request = HttpRequest.newBuilder(target)
                .timeout(TIMEOUT)
                .header("Content-Type", "application/logplex-1")
                .header("Logplex-Msg-Count", Integer.toString(messages.size()))
                .header("Logplex-Frame-Id", HexFormat.of().withUpperCase().formatHex(frameId))
                .header("Logplex-Drain-Token", drainToken)
                .header("User-Agent", "Silo")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray()));
        authorization.ifPresent(value -> request.header("Authorization", value));
        HttpResponse<Void> response;
        try {
            response = client.send(request.build(), HttpResponse.BodyHandlers.discarding());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while posting to the drain");
        }
        if (response.statusCode() / 100 != 2) {
            throw new IOException("the drain answered HTTP " + response.statusCode());
        }
    }

    @Override
    public void disconnect() {
        // a failed post leaves nothing open; the client's pool drops a broken connection itself
    }

    @Override
    public void close() {
        client.shutdownNow();
    }
}
