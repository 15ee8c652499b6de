package dev.silo.platform.log.drain;

import dev.silo.platform.config.LogDrainSettings;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * A syslog drain over TCP ({@code syslog://}) or TLS ({@code syslog+tls://}, RFC 5425): octet-counted frames
 * (RFC 6587 §3.4.1) written one batch at a time; nothing is ever read. TLS verifies the drain's certificate against
 * the JDK's trust store plus {@code SILO_LOG_DRAINS_CA}, and its name against the host in the URL.
 *
 * <p>The send buffer is fixed at 64 KiB so that a drain which stops reading holds little memory in the kernel:
 * the lines beyond it wait in the appender's bounded queue, where the oldest are dropped and counted.
 */
final class SyslogConnection implements DrainTransport {
    static final int SEND_BUFFER_BYTES = 64 * 1024;
    private static final int CONNECT_TIMEOUT_MILLIS = 10_000;
    private static final List<String> PROTOCOLS = List.of("TLSv1.3", "TLSv1.2");

    private final LogDrainSettings.Drain drain;
    private final Optional<SSLContext> tls;
    /** The TCP socket (under the TLS one): closing it ends a blocked write at once, TLS close_notify or not. */
    private volatile Socket socket;
    /** The socket being connected: closing it ends a connect or handshake that hangs, at stop. */
    private volatile Socket opening;
    private OutputStream out;

    SyslogConnection(LogDrainSettings.Drain drain, Optional<SSLContext> tls) {
        this.drain = requireNonNull(drain, "drain is null");
        this.tls = requireNonNull(tls, "tls is null");
    }

    @Override
    public boolean connected() {
        return socket != null;
    }

    @Override
    public void connect() throws IOException {
        Socket plain = new Socket();
        opening = plain;
        try {
            plain.setSendBufferSize(SEND_BUFFER_BYTES);
            plain.setTcpNoDelay(false);
            plain.setKeepAlive(true);
            plain.connect(new InetSocketAddress(drain.host(), drain.port()), CONNECT_TIMEOUT_MILLIS);
            Socket connected = plain;
            if (tls.isPresent()) {
                SSLSocket secure = (SSLSocket) tls.get().getSocketFactory().createSocket(plain, drain.host(), drain.port(), true);
                SSLParameters parameters = secure.getSSLParameters();
                // Hostname verification (RFC 6125 rules, as for HTTPS): a certificate for another name is refused.
                parameters.setEndpointIdentificationAlgorithm("HTTPS");
                parameters.setProtocols(PROTOCOLS.toArray(String[]::new));
                secure.setSSLParameters(parameters);
                secure.setSoTimeout(CONNECT_TIMEOUT_MILLIS);
                secure.startHandshake();
                secure.setSoTimeout(0);
                connected = secure;
            }
            out = connected.getOutputStream();
            socket = plain;
        } catch (IOException | RuntimeException e) {
            plain.close();
            throw e;
        } finally {
            opening = null;
        }
    }

    @Override
    public void send(List<byte[]> messages) throws IOException {
        ByteArrayOutputStream frames = new ByteArrayOutputStream(messages.size() * 400);
        for (byte[] message : messages) {
            SyslogFormat.frame(frames, message);
        }
        try {
            out.write(frames.toByteArray());
            out.flush();
        } catch (IOException | RuntimeException e) {
            disconnect();
            throw e;
        }
    }

    @Override
    public void disconnect() {
        Socket current = socket;
        socket = null;
        for (Socket open : new Socket[] {current, opening}) {
            if (open != null) {
                try {
                    open.close();
                } catch (IOException e) {
                    // closing anyway
                }
            }
        }
    }
}
