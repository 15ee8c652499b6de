package dev.silo.platform.http;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The listener survives hostile clients (claim C8): connections over the caps are closed at once while other
 * clients are served, a half-sent request head is closed after the header timeout, and a listener that stops
 * while the server is not closing is noticed. A bare HTTP server with one route: no database needed.
 */
class ConnectionLimitsTest {
    private final List<AutoCloseable> resources = new ArrayList<>();

    @AfterEach
    void closeAll() throws Exception {
        for (AutoCloseable resource : resources.reversed()) {
            resource.close();
        }
    }

    private HttpServer start(ConnectionLimits limits, Runnable onListenerLost, Duration watchdogPeriod) {
        HttpServer server = HttpServer.start(new HttpServer.Settings("127.0.0.1", 0, Duration.ofSeconds(1), limits,
                onListenerLost, watchdogPeriod), routes -> routes.get("/ping", (request, response) -> Json.ok(response, Map.of("pong", true))));
        resources.add(server);
        return server;
    }

    private static final Runnable FAIL_IF_LOST = () -> {
        throw new AssertionError("the listener was reported lost");
    };

    /** A connection from {@code source} (any 127.x address is this machine) that sent half a request line. */
    private Socket halfRequest(HttpServer server, String source) throws IOException {
        Socket socket = new Socket();
        resources.add(socket);
        socket.bind(new InetSocketAddress(InetAddress.getByName(source), 0));
        socket.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
        socket.getOutputStream().write("GET /ping HT".getBytes(StandardCharsets.US_ASCII));
        socket.getOutputStream().flush();
        return socket;
    }

    /** True once the server has closed {@code socket} (end of stream or reset); false while it is still open. */
    private static boolean closedByServer(Socket socket) throws IOException {
        socket.setSoTimeout(200);
        try {
            return socket.getInputStream().read() == -1;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (SocketException e) {
            return true;
        }
    }

    private static String get(HttpServer server, String source) throws IOException {
        try (Socket socket = new Socket()) {
            socket.bind(new InetSocketAddress(InetAddress.getByName(source), 0));
            socket.connect(new InetSocketAddress("127.0.0.1", server.port()), 5000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("GET /ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = socket.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void connectionsOverThePerAddressCapAreClosedAtOnceWhileOtherClientsAreServed() throws Exception {
        // A header timeout far longer than the test: whatever closes a connection here is the cap, not the clock.
        HttpServer server = start(new ConnectionLimits(64, 4, Duration.ofSeconds(300), Duration.ofSeconds(300)),
                FAIL_IF_LOST, Duration.ofMinutes(10));
        List<Socket> attack = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            attack.add(halfRequest(server, "127.0.0.1"));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> server.refusedConnections() >= 8);
        int closed = 0;
        for (Socket socket : attack) {
            if (closedByServer(socket)) {
                closed++;
            }
        }
        assertThat(closed).isEqualTo(8);
        assertThat(server.openConnections()).isEqualTo(4);
        // Another client is served while the attacker holds its four.
        assertThat(get(server, "127.0.0.2")).startsWith("HTTP/1.1 200").contains("pong");
        // After the attack, the attacker's address is served again.
        for (Socket socket : attack) {
            socket.close();
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> server.openConnections() == 0);
        assertThat(get(server, "127.0.0.1")).startsWith("HTTP/1.1 200");
    }

    @Test
    void connectionsOverTheTotalCapAreClosedAtOnceAndTheServerAnswersAfterwards() throws Exception {
        HttpServer server = start(new ConnectionLimits(16, 16, Duration.ofSeconds(300), Duration.ofSeconds(300)),
                FAIL_IF_LOST, Duration.ofMinutes(10));
        List<Socket> attack = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            attack.add(halfRequest(server, "127.0.0." + (10 + i % 6)));
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> server.refusedConnections() >= 8);
        assertThat(server.openConnections()).isEqualTo(16);
        assertThat(attack.stream().filter(socket -> {
            try {
                return closedByServer(socket);
            } catch (IOException e) {
                return true;
            }
        }).count()).isEqualTo(8);
        for (Socket socket : attack) {
            socket.close();
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> server.openConnections() == 0);
        assertThat(get(server, "127.0.0.1")).startsWith("HTTP/1.1 200").contains("pong");
    }

    @Test
    void aHalfSentRequestHeadIsClosedAfterTheHeaderTimeout() throws Exception {
        HttpServer server = start(new ConnectionLimits(64, 64, Duration.ofSeconds(1), Duration.ofSeconds(300)),
                FAIL_IF_LOST, Duration.ofMinutes(10));
        Socket slowLoris = halfRequest(server, "127.0.0.1");
        // The whole request line, then headers that never end: the deadline covers the head, not just the line.
        Socket slowHeaders = halfRequest(server, "127.0.0.1");
        slowHeaders.getOutputStream().write("TP/1.1\r\nHost: x\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
        await().atMost(Duration.ofSeconds(60)).until(() -> closedByServer(slowLoris) && closedByServer(slowHeaders));
        assertThat(server.headTimeouts()).isGreaterThanOrEqualTo(2);
        assertThat(get(server, "127.0.0.1")).startsWith("HTTP/1.1 200");
    }

    @Test
    void aKeepAliveConnectionThatStartsANewRequestHasTheHeaderTimeoutForItsHeadToo() throws Exception {
        HttpServer server = start(new ConnectionLimits(64, 64, Duration.ofSeconds(1), Duration.ofSeconds(300)),
                FAIL_IF_LOST, Duration.ofMinutes(10));
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            byte[] first = new byte[4096];
            int read = socket.getInputStream().read(first);
            assertThat(new String(first, 0, read, StandardCharsets.UTF_8)).startsWith("HTTP/1.1 200");
            socket.getOutputStream().write("GET /ping HTTP/1.1\r\nHost: x\r\nX-Slow: ".getBytes(StandardCharsets.US_ASCII));
            await().atMost(Duration.ofSeconds(60)).until(() -> closedByServer(socket));
        }
        assertThat(server.headTimeouts()).isEqualTo(1);
    }

    @Test
    void aListenerThatStopsWhileTheServerRunsIsReported() throws Exception {
        CountDownLatch lost = new CountDownLatch(1);
        HttpServer server = start(ConnectionLimits.defaults(), lost::countDown, Duration.ofMillis(100));
        assertThat(get(server, "127.0.0.1")).startsWith("HTTP/1.1 200");
        server.stopListenerOnly(); // what Helidon's accept loop does by itself on "Too many open files"
        assertThat(lost.await(60, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void aServerBeingClosedIsNotReportedLost() throws Exception {
        CountDownLatch lost = new CountDownLatch(1);
        HttpServer server = start(ConnectionLimits.defaults(), lost::countDown, Duration.ofMillis(50));
        server.close();
        // A live listener probed at the same rate is answered: the watchdog ran and stays quiet for a closed server.
        CountDownLatch other = new CountDownLatch(1);
        HttpServer witness = start(ConnectionLimits.defaults(), other::countDown, Duration.ofMillis(50));
        witness.stopListenerOnly();
        assertThat(other.await(60, TimeUnit.SECONDS)).isTrue();
        assertThat(lost.getCount()).isEqualTo(1);
    }

    @Test
    void theConnectionCapStaysUnderTheDescriptorLimit() {
        ConnectionLimits limits = new ConnectionLimits(100_000, 1000, Duration.ofSeconds(10), Duration.ofSeconds(60));
        ConnectionLimits capped = limits.underDescriptorLimit(1024);
        assertThat(capped.maxConnections()).isEqualTo(1024 - ConnectionLimits.RESERVED_DESCRIPTORS);
        assertThat(capped.maxConnectionsPerAddress()).isLessThanOrEqualTo(capped.maxConnections());
        assertThat(ConnectionLimits.defaults().underDescriptorLimit(1_000_000)).isEqualTo(ConnectionLimits.defaults());
    }

    @Test
    void theLimitsComeFromTheEnvironmentAndABadValueNamesItsSetting() {
        var limits = dev.silo.platform.config.SiloConfig.Tuning.from(Map.of("SILO_MAX_CONNECTIONS", "500",
                "SILO_MAX_CONNECTIONS_PER_ADDRESS", "50", "SILO_HEADER_TIMEOUT_SECONDS", "5", "SILO_IDLE_TIMEOUT_SECONDS", "30")).http();
        assertThat(limits).isEqualTo(new ConnectionLimits(500, 50, Duration.ofSeconds(5), Duration.ofSeconds(30)));
        assertThat(dev.silo.platform.config.SiloConfig.Tuning.from(Map.of()).http()).isEqualTo(ConnectionLimits.defaults());
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> dev.silo.platform.config.SiloConfig.Tuning.from(
                Map.of("SILO_MAX_CONNECTIONS_PER_ADDRESS", "many"))))
                .isInstanceOf(dev.silo.platform.config.ConfigException.class).hasMessageContaining("SILO_MAX_CONNECTIONS_PER_ADDRESS");
        assertThat(org.assertj.core.api.Assertions.catchThrowable(() -> dev.silo.platform.config.SiloConfig.Tuning.from(
                Map.of("SILO_HEADER_TIMEOUT_SECONDS", "0"))))
                .isInstanceOf(dev.silo.platform.config.ConfigException.class).hasMessageContaining("SILO_HEADER_TIMEOUT_SECONDS");
    }
}
