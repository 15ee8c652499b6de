package dev.silo.mail;

import com.icegreen.greenmail.util.GreenMail;
import com.icegreen.greenmail.util.ServerSetup;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.Multipart;
import jakarta.mail.internet.MimeMessage;

import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;


/** A real SMTP server in the test JVM (GreenMail), and reading what it received. */
final class TestingMailbox implements AutoCloseable {
    final GreenMail greenMail;

    TestingMailbox() {
        greenMail = new GreenMail(new ServerSetup(0, "127.0.0.1", ServerSetup.PROTOCOL_SMTP).dynamicPort());
        greenMail.setUser("silo", "silo", "secret");
        greenMail.start();
    }

    int port() {
        return greenMail.getSmtp().getPort();
    }

    /** A received mail, its parts read. */
    record Received(String to, String from, String subject, String messageId, String text, String html) {
        String token(String prefix) {
            Matcher matcher = Pattern.compile(Pattern.quote(prefix) + "[A-Za-z0-9_-]{43}").matcher(text);
            if (!matcher.find()) {
                throw new AssertionError("no " + prefix + " token in: " + text);
            }
            return matcher.group();
        }
    }

    List<Received> to(String address) {
        return Arrays.stream(greenMail.getReceivedMessages()).map(TestingMailbox::read)
                .filter(mail -> mail.to().equalsIgnoreCase(address)).toList();
    }

    /** Waits for the {@code n}-th mail to {@code address} and returns it. */
    Received await(String address, int n) {
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> to(address).size() >= n);
        return to(address).get(n - 1);
    }

    Received awaitSubject(String address, String subjectPart) {
        org.awaitility.Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> to(address).stream().anyMatch(mail -> mail.subject().contains(subjectPart)));
        return to(address).stream().filter(mail -> mail.subject().contains(subjectPart)).findFirst().orElseThrow();
    }

    private static Received read(MimeMessage message) {
        try {
            String text = "";
            String html = "";
            if (message.getContent() instanceof Multipart multipart) {
                for (int i = 0; i < multipart.getCount(); i++) {
                    var part = multipart.getBodyPart(i);
                    if (part.isMimeType("text/plain")) {
                        text = (String) part.getContent();
                    } else if (part.isMimeType("text/html")) {
                        html = (String) part.getContent();
                    }
                }
            } else {
                text = String.valueOf(message.getContent());
            }
            return new Received(message.getRecipients(Message.RecipientType.TO)[0].toString(), message.getFrom()[0].toString(),
                    message.getSubject(), message.getMessageID(), text, html);
        } catch (MessagingException | IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        greenMail.stop();
    }
}
