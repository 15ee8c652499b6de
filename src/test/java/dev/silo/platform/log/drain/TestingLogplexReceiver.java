package dev.silo.platform.log.drain;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import dev.silo.platform.db.TlsMaterial;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/** An HTTPS log drain endpoint for tests (the JDK's HTTPS server) that records every post and answers 204. */
final class TestingLogplexReceiver implements AutoCloseable {
    record Post(String method, String path, String query, Map<String, List<String>> headers, byte[] body) {
        String header(String name) {
            return headers.entrySet().stream().filter(entry -> entry.getKey().equalsIgnoreCase(name))
                    .map(entry -> entry.getValue().getFirst()).findFirst().orElse(null);
        }
    }

    private final HttpsServer server;
    private final List<Post> posts = new CopyOnWriteArrayList<>();

    TestingLogplexReceiver(TlsMaterial material) throws Exception {
        server = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 50);
        server.setHttpsConfigurator(new HttpsConfigurator(TestingSyslogReceiver.serverContext(material)));
        server.setExecutor(Executors.newFixedThreadPool(2, Thread.ofPlatform().daemon().factory()));
        server.createContext("/", exchange -> {
            byte[] body = exchange.getRequestBody().readAllBytes();
            posts.add(new Post(exchange.getRequestMethod(), exchange.getRequestURI().getRawPath(),
                    exchange.getRequestURI().getRawQuery(), Map.copyOf(exchange.getRequestHeaders()), body));
            exchange.sendResponseHeaders(204, -1);
            exchange.close();
        });
        server.start();
    }

    int port() {
        return server.getAddress().getPort();
    }

    List<Post> posts() {
        return List.copyOf(posts);
    }

    @Override
    public void close() throws IOException {
        server.stop(0);
    }
}
