package dev.silo.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.app.Main;
import dev.silo.app.Silo;
import dev.silo.platform.http.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code silo logs [--tail] [--stream api|app|system] [--tenant SLUG]}: the last 1,000 log lines of a running node,
 * or, with {@code --tail}, those and then every new line until Ctrl-C. Unlike the other commands this one talks
 * to a running server over its admin API ({@code GET /admin/logs}, {@code GET /admin/logs/tail}): the lines are
 * in that process's memory, nowhere else.
 *
 * <p>The server: {@code --url}, else {@code SILO_URL}, else {@code http://localhost:$SILO_PORT} (or {@code $PORT},
 * or 8080). The operator key: {@code SILO_OPERATOR_KEY}, else the file named by {@code --operator-key-file}, else the
 * bootstrap key file of the data directory ({@code --data-dir}, {@code SILO_DATA_DIR}, {@code ./silo-data}) when it
 * is readable. Never a flag value: a key on the command line is visible to every user of the machine ({@code ps}).
 */
@Command(name = "logs", mixinStandardHelpOptions = true,
        description = {"Print the last 1,000 log lines of a running Silo (all three streams: api, app, system); "
                + "with --tail, then follow new lines until Ctrl-C.",
                "Reaches the server over its admin API: --url or $SILO_URL (default http://localhost:$SILO_PORT), "
                        + "operator key from $SILO_OPERATOR_KEY, --operator-key-file, or the data directory's bootstrap key."})
public final class LogsCommand implements Callable<Integer> {
    private static final Set<String> STREAMS = Set.of("api", "app", "system");

    private final Map<String, String> env;
    private final PrintStream out;
    private final PrintStream err;

    @Option(names = "--tail", description = "keep following: print new lines as they are logged, until Ctrl-C")
    boolean tail;

    @Option(names = "--stream", paramLabel = "api|app|system", description = "only this stream")
    String stream;

    @Option(names = "--tenant", paramLabel = "SLUG", description = "only lines logged while serving this tenant")
    String tenant;

    @Option(names = "--url", paramLabel = "URL", description = "the server (default: $SILO_URL or http://localhost:$SILO_PORT)")
    String url;

    @Option(names = "--operator-key-file", paramLabel = "FILE", description = "a file holding the operator key "
            + "(default: $SILO_OPERATOR_KEY, else <data dir>/" + Silo.BOOTSTRAP_KEY_FILE + ")")
    Path operatorKeyFile;

    @Option(names = "--data-dir", paramLabel = "DIR", description = "where to find the bootstrap operator key "
            + "(default: $SILO_DATA_DIR or ./silo-data)")
    Path dataDir;

    @Option(names = "--json", description = "print each line as the JSON object the server sends")
    boolean json;

    public LogsCommand(Map<String, String> env, PrintStream out, PrintStream err) {
        this.env = env;
        this.out = out;
        this.err = err;
    }

    @Override
    public Integer call() throws Exception {
        if (stream != null && !STREAMS.contains(stream)) {
            err.println("silo: --stream must be api, app or system");
            return Main.EXIT_CONFIG;
        }
        URI base = base();
        Optional<String> key = operatorKey();
        if (key.isEmpty()) {
            err.println("silo: no operator key: set SILO_OPERATOR_KEY, or pass --operator-key-file FILE "
                    + "(create one with: silo operators create NAME)");
            return Main.EXIT_CONFIG;
        }
        List<String> query = new ArrayList<>();
        if (stream != null) {
            query.add("stream=" + stream);
        }
        if (tenant != null) {
            query.add("tenant=" + URLEncoder.encode(tenant, StandardCharsets.UTF_8));
        }
        String path = (tail ? "/admin/logs/tail" : "/admin/logs") + (query.isEmpty() ? "" : "?" + String.join("&", query));
        HttpRequest.Builder request = HttpRequest.newBuilder(base.resolve(path))
                .header("Authorization", "Bearer " + key.get())
                .header("Accept", tail ? "text/event-stream" : "application/json")
                .GET();
        if (!tail) {
            request.timeout(Duration.ofSeconds(30));
        }
        try (HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build()) {
            HttpResponse<InputStream> response;
            try {
                response = client.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
            } catch (IOException e) {
                err.println("silo: cannot reach " + base + " (" + e.getClass().getSimpleName() + "): is the server running?");
                return Main.EXIT_FAILURE;
            }
            try (InputStream body = response.body()) {
                if (response.statusCode() != 200) {
                    err.println("silo: " + problem(response.statusCode(), body.readAllBytes()));
                    return Main.EXIT_FAILURE;
                }
                if (!tail) {
                    for (JsonNode line : Json.MAPPER.readTree(body).path("lines")) {
                        print(line);
                    }
                    return 0;
                }
                return follow(body);
            }
        }
    }

    /** Reads server-sent events until the server ends the stream or this thread is interrupted (Ctrl-C ends the JVM). */
    private int follow(InputStream body) {
        BufferedReader reader = new BufferedReader(new InputStreamReader(body, StandardCharsets.UTF_8));
        String event = null;
        StringBuilder data = new StringBuilder();
        try {
            String line;
            while (!Thread.currentThread().isInterrupted() && (line = reader.readLine()) != null) {
                if (line.isEmpty()) {
                    dispatch(event, data.toString());
                    event = null;
                    data.setLength(0);
                } else if (line.startsWith("event:")) {
                    event = line.substring(6).strip();
                } else if (line.startsWith("data:")) {
                    if (!data.isEmpty()) {
                        data.append('\n');
                    }
                    data.append(line.substring(5).startsWith(" ") ? line.substring(6) : line.substring(5));
                }
                // "id:" and comments (":" keep-alives, the end of the backlog) need nothing here
            }
            return 0;
        } catch (IOException e) {
            if (Thread.currentThread().isInterrupted()) {
                return 0;
            }
            err.println("silo: the log stream broke (" + e.getClass().getSimpleName() + ")");
            return Main.EXIT_FAILURE;
        }
    }

    private void dispatch(String event, String data) throws IOException {
        if (data.isEmpty()) {
            return;
        }
        if ("dropped".equals(event)) {
            long dropped = Json.MAPPER.readTree(data).path("dropped").asLong();
            err.println("silo: " + dropped + " log lines skipped: this terminal read more slowly than the server logged");
        } else if (event == null || "line".equals(event)) {
            print(Json.MAPPER.readTree(data));
        }
    }

    private void print(JsonNode line) {
        if (json) {
            out.println(line.toString());
            return;
        }
        StringBuilder text = new StringBuilder();
        text.append(line.path("time").asText()).append(' ')
                .append(String.format("%-5s", line.path("level").asText())).append(' ')
                .append(String.format("%-6s", line.path("stream").asText())).append(' ')
                .append(line.path("logger").asText());
        for (String field : List.of("request_id", "tenant")) {
            if (line.hasNonNull(field)) {
                text.append(' ').append(field).append('=').append(line.path(field).asText());
            }
        }
        text.append(' ').append(line.path("message").asText());
        if (line.hasNonNull("error")) {
            text.append(" [").append(line.path("error").asText()).append(']');
        }
        out.println(text);
    }

    private static String problem(int status, byte[] body) {
        try {
            JsonNode problem = Json.MAPPER.readTree(body);
            if (problem.hasNonNull("detail")) {
                return problem.path("detail").asText() + " (HTTP " + status + ")";
            }
        } catch (IOException e) {
            // not a problem body
        }
        return "the server answered HTTP " + status;
    }

    private URI base() {
        String value = url != null ? url : env.get("SILO_URL");
        if (value == null || value.isBlank()) {
            String port = Optional.ofNullable(env.get("SILO_PORT")).or(() -> Optional.ofNullable(env.get("PORT"))).orElse("8080");
            value = "http://localhost:" + port;
        }
        try {
            URI uri = new URI(value.strip());
            if (uri.getHost() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))) {
                throw new URISyntaxException(value, "not an http(s) URL");
            }
            return uri;
        } catch (URISyntaxException e) {
            throw new dev.silo.platform.config.ConfigException(url != null ? "--url" : "SILO_URL",
                    "expected an http(s) URL such as http://localhost:8080");
        }
    }

    private Optional<String> operatorKey() throws IOException {
        String fromEnv = env.get("SILO_OPERATOR_KEY");
        if (fromEnv != null && !fromEnv.isBlank()) {
            return Optional.of(fromEnv.strip());
        }
        if (operatorKeyFile != null) {
            return Optional.of(Files.readString(operatorKeyFile).strip());
        }
        Path dir = dataDir != null ? dataDir : Path.of(Optional.ofNullable(env.get("SILO_DATA_DIR")).orElse("silo-data"));
        Path bootstrap = dir.resolve(Silo.BOOTSTRAP_KEY_FILE);
        return Files.isReadable(bootstrap) ? Optional.of(Files.readString(bootstrap).strip()) : Optional.empty();
    }
}
