package dev.silo.mail;

import dev.silo.platform.config.MailConfig;
import dev.silo.platform.crypto.ExtraCaTls;
import jakarta.mail.Message;
import jakarta.mail.MessagingException;
import jakarta.mail.SendFailedException;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeBodyPart;
import jakarta.mail.internet.MimeMessage;
import jakarta.mail.internet.MimeMultipart;
import org.eclipse.angus.mail.smtp.SMTPAddressFailedException;
import org.eclipse.angus.mail.smtp.SMTPSendFailedException;

import javax.net.ssl.SSLContext;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Properties;

import static java.util.Objects.requireNonNull;

/**
 * Hands one message to the SMTP server with Jakarta Mail (Eclipse Angus). TLS is verified against the JDK's trust
 * store plus {@code SILO_SMTP_CA}, with the server's name checked; {@code smtp://} requires STARTTLS unless the URL
 * says otherwise, so a server (or a man in the middle) that does not offer it gets no mail and no password.
 */
final class MailSender {
    private final MailConfig.Smtp smtp;
    private final Session session;

    MailSender(MailConfig config) {
        this.smtp = config.smtp().orElseThrow(() -> new IllegalArgumentException("SILO_SMTP_URL is not set"));
        Properties properties = new Properties();
        properties.put("mail.transport.protocol", "smtp");
        properties.put("mail.smtp.host", smtp.host());
        properties.put("mail.smtp.port", String.valueOf(smtp.port()));
        properties.put("mail.smtp.connectiontimeout", "10000");
        properties.put("mail.smtp.timeout", "30000");
        properties.put("mail.smtp.writetimeout", "30000");
        properties.put("mail.smtp.auth", String.valueOf(smtp.user().isPresent()));
        properties.put("mail.smtp.ssl.checkserveridentity", "true");
        properties.put("mail.smtp.ssl.socketFactory", tls(config).getSocketFactory());
        switch (smtp.security()) {
            case IMPLICIT_TLS -> properties.put("mail.smtp.ssl.enable", "true");
            case STARTTLS_REQUIRED -> {
                properties.put("mail.smtp.starttls.enable", "true");
                properties.put("mail.smtp.starttls.required", "true");
            }
            case STARTTLS_OPTIONAL -> properties.put("mail.smtp.starttls.enable", "true");
            case PLAIN -> { }
        }
        this.session = Session.getInstance(properties);
    }

    /** One mail, rendered. */
    record Outgoing(String from, String to, String subject, String text, String html, String messageId, Instant date) {
        Outgoing {
            requireNonNull(from, "from is null");
            requireNonNull(to, "to is null");
            requireNonNull(subject, "subject is null");
            requireNonNull(text, "text is null");
            requireNonNull(html, "html is null");
            requireNonNull(messageId, "messageId is null");
            requireNonNull(date, "date is null");
        }

        @Override
        public String toString() {
            return "Outgoing[" + messageId + "]"; // the body may hold a one-time token
        }
    }

    /** Why a mail was not sent; {@code permanent} when trying again cannot help (the server refused the address). */
    static final class SendFailure extends Exception {
        private final boolean permanent;

        SendFailure(String message, boolean permanent) {
            super(message, null, false, false);
            this.permanent = permanent;
        }

        boolean permanent() {
            return permanent;
        }
    }

    String describe() {
        return smtp.display();
    }

    /**
     * Sends {@code mail}; returns when the server accepted it (250 after DATA).
     *
     * @throws SendFailure with the server's answer (never the password)
     */
    void send(Outgoing mail) throws SendFailure {
        try {
            MimeMessage message = new FixedIdMessage(session, mail.messageId());
            message.setFrom(new InternetAddress(mail.from(), true));
            message.setRecipient(Message.RecipientType.TO, new InternetAddress(mail.to(), true));
            message.setSubject(mail.subject(), StandardCharsets.UTF_8.name());
            message.setSentDate(Date.from(mail.date()));
            MimeBodyPart text = new MimeBodyPart();
            text.setText(mail.text(), StandardCharsets.UTF_8.name(), "plain");
            MimeBodyPart html = new MimeBodyPart();
            html.setText(mail.html(), StandardCharsets.UTF_8.name(), "html");
            message.setContent(new MimeMultipart("alternative", text, html));
            message.saveChanges();
            try (Transport transport = session.getTransport("smtp")) {
                transport.connect(smtp.host(), smtp.port(), smtp.user().orElse(null), smtp.password().orElse(null));
                transport.sendMessage(message, message.getAllRecipients());
            }
        } catch (jakarta.mail.internet.AddressException e) {
            throw new SendFailure("not an address this server can take: " + oneLine(e.getMessage()), true);
        } catch (SMTPAddressFailedException e) {
            throw new SendFailure("the server refused the address: " + oneLine(e.getMessage()), e.getReturnCode() >= 500);
        } catch (SMTPSendFailedException e) {
            throw new SendFailure("the server refused the mail: " + oneLine(e.getMessage()), e.getReturnCode() >= 500);
        } catch (SendFailedException e) {
            boolean refusedAddress = e.getInvalidAddresses() != null && e.getInvalidAddresses().length > 0;
            throw new SendFailure("the server refused the mail: " + oneLine(e.getMessage()), refusedAddress);
        } catch (MessagingException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new SendFailure("cannot send through " + smtp.display() + ": " + oneLine(String.valueOf(e.getMessage()))
                    + (cause != e ? " (" + cause.getClass().getSimpleName() + ": " + oneLine(String.valueOf(cause.getMessage())) + ")" : ""),
                    false);
        }
    }

    private static String oneLine(String text) {
        String flat = String.valueOf(text).replaceAll("[\\r\\n]+", " ").strip();
        return flat.length() > 300 ? flat.substring(0, 300) + "..." : flat;
    }

    /** A message whose Message-ID is the outbox row's, the same on every attempt: a duplicate is recognisable. */
    private static final class FixedIdMessage extends MimeMessage {
        private final String messageId;

        FixedIdMessage(Session session, String messageId) {
            super(session);
            this.messageId = messageId;
        }

        @Override
        protected void updateMessageID() throws MessagingException {
            setHeader("Message-ID", messageId);
        }
    }

    /** The JDK's trusted CAs plus those of {@code SILO_SMTP_CA}, in one PKIX trust manager. */
    private static SSLContext tls(MailConfig config) {
        return ExtraCaTls.context(config.caFile(), "smtp");
    }
}
