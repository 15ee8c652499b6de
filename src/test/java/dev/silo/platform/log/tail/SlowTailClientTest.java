package dev.silo.platform.log.tail;

import dev.silo.app.Silo;
import dev.silo.testing.TestingSilo;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A tail client that stops reading: the server keeps logging, drops that client's lines and tells it how many. */
class SlowTailClientTest {
    @Test
    void aClientThatStopsReadingIsSentTheCountOfTheLinesItLost() throws Exception {
        Silo silo = TestingSilo.shared();
        String tenant = "flood-" + UUID.randomUUID().toString().substring(0, 8);
        int before = LogTail.global().subscribers();
        try (Socket socket = new Socket()) {
            socket.setReceiveBufferSize(1024); // before connecting: a small window, so the server's writes block soon
            socket.connect(new InetSocketAddress("127.0.0.1", silo.port()), 5000);
            socket.setSoTimeout(30_000);
            OutputStream out = socket.getOutputStream();
            out.write(("GET /admin/logs/tail?tenant=" + tenant + " HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n"
                    + "Authorization: Bearer " + TestingSilo.operatorKey(silo) + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            await().atMost(Duration.ofSeconds(30)).until(() -> LogTail.global().subscribers() > before);

            // Lines of this tenant only (straight into the tail, not through stdout): far more than the client's queue
            // and the socket buffers hold. None of these appends waits for the client.
            String filler = "x".repeat(4000);
            int lines = LogTail.SUBSCRIBER_QUEUE * 3;
            for (int i = 0; i < lines; i++) {
                int n = i;
                LogTail.global().append(seq -> new TailLine(seq, System.currentTimeMillis(), "INFO", "app", "test.flood",
                        "flood " + n + " " + filler, null, null, null, null, tenant));
            }

            InputStream in = socket.getInputStream();
            Pattern dropped = Pattern.compile("event:dropped\\s*\\ndata:\\{\"dropped\":(\\d+)}");
            StringBuilder window = new StringBuilder();
            byte[] buffer = new byte[65536];
            long lost = -1;
            int read;
            while (lost < 0 && (read = in.read(buffer)) > 0) {
                window.append(new String(buffer, 0, read, StandardCharsets.UTF_8));
                Matcher matcher = dropped.matcher(window);
                if (matcher.find()) {
                    lost = Long.parseLong(matcher.group(1));
                } else if (window.length() > 100_000) {
                    window.delete(0, window.length() - 1000);
                }
            }
            assertThat(lost).as("a dropped event arrives").isPositive().isLessThanOrEqualTo(lines);
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> LogTail.global().subscribers() == before);
    }
}
