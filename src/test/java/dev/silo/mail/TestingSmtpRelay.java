package dev.silo.mail;

import dev.silo.platform.db.TlsMaterial;
import dev.silo.platform.http.ServerCertificate;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
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
 * A front for GreenMail (whose SMTP server has no STARTTLS) that a test controls: it answers the greeting and EHLO
 * itself, offering STARTTLS, upgrades the connection with a certificate of a test CA, then relays the rest of the
 * conversation to GreenMail in clear over loopback. It can also refuse every connection ({@code 421}) or hold
 * connections without a word, as a server that is down or hangs.
 */
final class TestingSmtpRelay implements AutoCloseable {
    enum Mode { RELAY, REFUSE, HOLD }

    private final ServerSocket server;
    private final SSLContext tls;
    private final int upstreamPort;
    private final List<Socket> open = new CopyOnWriteArrayList<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicInteger tlsUpgrades = new AtomicInteger();
    private volatile Mode mode = Mode.RELAY;

    TestingSmtpRelay(TlsMaterial material, int upstreamPort) throws Exception {
        this.tls = serverContext(material);
        this.upstreamPort = upstreamPort;
        this.server = new ServerSocket();
        server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        Thread.ofVirtual().name("smtp-relay-accept").start(this::accept);
    }

    int port() {
        return server.getLocalPort();
    }

    void mode(Mode mode) {
        this.mode = mode;
    }

    /** Connections accepted, whatever the mode. */
    int connections() {
        return connections.get();
    }

    int tlsUpgrades() {
        return tlsUpgrades.get();
    }

    /** Drops every open connection (the ones held, too). */
    void dropAll() {
        for (Socket socket : open) {
            closeQuietly(socket);
        }
    }

    private void accept() {
        while (!server.isClosed()) {
            try {
                Socket client = server.accept();
                connections.incrementAndGet();
                open.add(client);
                Thread.ofVirtual().start(() -> serve(client));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket client) {
        try {
            switch (mode) {
                case REFUSE -> {
                    write(client.getOutputStream(), "421 4.3.2 not accepting mail just now\r\n");
                    client.close();
                }
                case HOLD -> client.getInputStream().read(); // until the client or the test closes it
                case RELAY -> relay(client);
            }
        } catch (IOException e) {
            // the client went away
        } finally {
            closeQuietly(client);
            open.remove(client);
        }
    }

    private void relay(Socket client) throws IOException {
        InputStream in = client.getInputStream();
        OutputStream out = client.getOutputStream();
        write(out, "220 relay.test ESMTP\r\n");
        while (true) {
            String line = readLine(in);
            if (line == null) {
                return;
            }
            String command = line.toUpperCase(java.util.Locale.ROOT);
            if (command.startsWith("EHLO")) {
                write(out, "250-relay.test\r\n250 STARTTLS\r\n");
            } else if (command.startsWith("HELO")) {
                write(out, "250 relay.test\r\n");
            } else if (command.equals("STARTTLS")) {
                write(out, "220 2.0.0 ready to start TLS\r\n");
                break;
            } else if (command.equals("QUIT")) {
                write(out, "221 bye\r\n");
                return;
            } else {
                write(out, "530 5.7.0 must issue a STARTTLS command first\r\n");
            }
        }
        SSLSocket secure = (SSLSocket) tls.getSocketFactory().createSocket(client, "localhost", client.getPort(), true);
        secure.setUseClientMode(false);
        secure.startHandshake();
        tlsUpgrades.incrementAndGet();
        open.add(secure);
        try (Socket upstream = new Socket(InetAddress.getLoopbackAddress(), upstreamPort)) {
            open.add(upstream);
            readLine(upstream.getInputStream()); // GreenMail's greeting: the client had ours
            Thread back = Thread.ofVirtual().start(() -> pipe(upstream, secure));
            pipe(secure, upstream);
            back.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            open.remove(secure);
            closeQuietly(secure);
        }
    }

    private static void pipe(Socket from, Socket to) {
        try {
            from.getInputStream().transferTo(to.getOutputStream());
        } catch (IOException e) {
            // one side closed
        } finally {
            closeQuietly(to);
            closeQuietly(from);
        }
    }

    /** One CRLF-terminated line, read byte by byte so nothing after it (the TLS handshake) is consumed. */
    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) != -1) {
            if (b == '\n') {
                return line.toString(StandardCharsets.US_ASCII).strip();
            }
            line.write(b);
        }
        return null;
    }

    private static void write(OutputStream out, String text) throws IOException {
        out.write(text.getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException e) {
            // closing
        }
    }

    private static SSLContext serverContext(TlsMaterial material) throws Exception {
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

    @Override
    public void close() throws IOException {
        server.close();
        dropAll();
    }
}
