package bench;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;

/** One keep-alive HTTP/1.1 connection with just enough response parsing for the load driver. */
final class LoadConnection {
    private final Socket socket;
    private final OutputStream out;
    private final InputStream in;
    private final StringBuilder line = new StringBuilder();
    private byte[] body = new byte[8192];
    private int bodyLength;
    private boolean closed;

    LoadConnection(URI base) throws IOException {
        socket = new Socket();
        socket.setTcpNoDelay(true);
        socket.connect(new InetSocketAddress(base.getHost(), base.getPort()), 5000);
        socket.setSoTimeout(60_000);
        out = socket.getOutputStream();
        in = new BufferedInputStream(socket.getInputStream(), 16384);
    }

    int exchange(byte[] request) throws IOException {
        out.write(request);
        out.flush();
        String statusLine = readLine();
        if (!statusLine.startsWith("HTTP/1.1 ") || statusLine.length() < 12) {
            throw new IOException("bad status line: " + Format.abbreviate(statusLine));
        }
        int status = Integer.parseInt(statusLine.substring(9, 12));
        long contentLength = -1;
        boolean chunked = false;
        while (true) {
            String header = readLine();
            if (header.isEmpty()) {
                break;
            }
            int colon = header.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String name = header.substring(0, colon).strip();
            String value = header.substring(colon + 1).strip();
            if (name.equalsIgnoreCase("Content-Length")) {
                contentLength = Long.parseLong(value);
            } else if (name.equalsIgnoreCase("Transfer-Encoding") && value.toLowerCase(Locale.ROOT).contains("chunked")) {
                chunked = true;
            } else if (name.equalsIgnoreCase("Connection") && value.equalsIgnoreCase("close")) {
                closed = true;
            }
        }
        bodyLength = 0;
        if (chunked) {
            while (true) {
                String size = readLine();
                int semicolon = size.indexOf(';');
                int chunk = Integer.parseInt((semicolon >= 0 ? size.substring(0, semicolon) : size).strip(), 16);
                if (chunk == 0) {
                    while (!readLine().isEmpty()) {
                        // trailers
                    }
                    break;
                }
                readBody(chunk);
                readLine();
            }
        } else if (contentLength >= 0) {
            readBody((int) contentLength);
        } else if (status != 204 && status != 304) {
            throw new IOException("response without Content-Length or chunked encoding");
        }
        return status;
    }

    private void readBody(int length) throws IOException {
        if (bodyLength + length > body.length) {
            body = Arrays.copyOf(body, Math.max(body.length * 2, bodyLength + length));
        }
        int read = in.readNBytes(body, bodyLength, length);
        if (read < length) {
            throw new IOException("connection closed in the middle of a response body");
        }
        bodyLength += length;
    }

    private String readLine() throws IOException {
        line.setLength(0);
        while (true) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("connection closed by the server");
            }
            if (b == '\n') {
                int length = line.length();
                if (length > 0 && line.charAt(length - 1) == '\r') {
                    line.setLength(length - 1);
                }
                return line.toString();
            }
            line.append((char) b);
        }
    }

    String lastBody() {
        return new String(body, 0, bodyLength, StandardCharsets.UTF_8);
    }

    boolean closed() {
        return closed;
    }

    void close() {
        try {
            socket.close();
        } catch (IOException ignored) {
            // closing
        }
    }
}
