package dev.silo.platform.log.drain;

import dev.silo.platform.db.TlsMaterial;
import dev.silo.platform.http.ServerCertificate;

import javax.net.ServerSocketFactory;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A syslog collector for tests: a real TCP or TLS server socket that reads RFC 6587 octet-counted frames exactly
 * (the count, one space, that many bytes, and the next frame starts at once) and records each message; anything
 * else is recorded as a framing error. {@link #neverReading} accepts connections and never reads a byte: a drain
 * that has stopped taking lines.
 */
final class TestingSyslogReceiver implements AutoCloseable {
    private final ServerSocket server;
    private final boolean read;
    private final List<String> messages = new CopyOnWriteArrayList<>();
    private final List<String> framingErrors = new CopyOnWriteArrayList<>();
    private final List<Socket> connections = new CopyOnWriteArrayList<>();
    private final AtomicInteger accepted = new AtomicInteger();

    private TestingSyslogReceiver(ServerSocket server, boolean read) {
        this.server = server;
        this.read = read;
        Thread.ofPlatform().daemon().name("test-syslog-accept").start(this::accept);
    }

    static TestingSyslogReceiver tcp() throws IOException {
        return new TestingSyslogReceiver(ServerSocketFactory.getDefault().createServerSocket(0, 50,
                InetAddress.getLoopbackAddress()), true);
    }

    /** TLS with {@code material}'s server certificate (issued for localhost, 127.0.0.1 and ::1), bound to {@code address}. */
    static TestingSyslogReceiver tls(TlsMaterial material, String address) throws Exception {
        SSLServerSocket socket = (SSLServerSocket) serverContext(material).getServerSocketFactory().createServerSocket(0, 50,
                InetAddress.getByName(address));
        return new TestingSyslogReceiver(socket, true);
    }

    /** Accepts, never reads; a small receive buffer so that the sender's writes block soon. */
    static TestingSyslogReceiver neverReading() throws IOException {
        ServerSocket socket = new ServerSocket();
        socket.setReceiveBufferSize(4096);
        socket.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        return new TestingSyslogReceiver(socket, false);
    }

    static SSLContext serverContext(TlsMaterial material) throws Exception {
        ServerCertificate certificate = ServerCertificate.load(material.serverCertificate(), material.serverKey());
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        char[] password = "test".toCharArray();
        store.setKeyEntry("server", certificate.key(), password, certificate.chain().toArray(Certificate[]::new));
        KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keys.init(store, password);
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(keys.getKeyManagers(), null, null);
        return context;
    }

    int port() {
        return server.getLocalPort();
    }

    List<String> messages() {
        return List.copyOf(messages);
    }

    List<String> framingErrors() {
        return List.copyOf(framingErrors);
    }

    int accepted() {
        return accepted.get();
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket socket = server.accept();
                accepted.incrementAndGet();
                connections.add(socket);
                if (read) {
                    Thread.ofPlatform().daemon().name("test-syslog-read").start(() -> readFrames(socket));
                }
            } catch (IOException e) {
                return;
            }
        }
    }

    private void readFrames(Socket socket) {
        try (InputStream in = new BufferedInputStream(socket.getInputStream())) {
            while (true) {
                int length = 0;
                int digits = 0;
                int c;
                while ((c = in.read()) >= '0' && c <= '9') {
                    length = length * 10 + (c - '0');
                    digits++;
                }
                if (c == -1 && digits == 0) {
                    return; // the sender closed between frames
                }
                if (c != ' ' || digits == 0 || digits > 9) {
                    framingErrors.add("expected MSG-LEN SP, got " + digits + " digits then " + c);
                    return;
                }
                byte[] message = in.readNBytes(length);
                if (message.length != length) {
                    framingErrors.add("a frame of " + length + " bytes ended after " + message.length);
                    return;
                }
                messages.add(new String(message, StandardCharsets.UTF_8));
            }
        } catch (IOException e) {
            // the connection went away: what was read is recorded
        }
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket socket : connections) {
            socket.close();
        }
    }
}
