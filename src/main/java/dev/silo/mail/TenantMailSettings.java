package dev.silo.mail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * A tenant's mail settings, the one row of {@code mail_settings} in its own database (absent: all defaults): its
 * sender, whether logins need a verified address, and the templates its admins replaced.
 */
record TenantMailSettings(Optional<String> mailFrom, boolean requireVerifiedEmail, Map<MailTemplates.Kind, MailTemplates.Template> templates) {
    private static final ObjectMapper JSON = new ObjectMapper();

    TenantMailSettings {
        requireNonNull(mailFrom, "mailFrom is null");
        templates = Map.copyOf(templates);
    }

    static final TenantMailSettings DEFAULTS = new TenantMailSettings(Optional.empty(), false, Map.of());

    MailTemplates.Template template(MailTemplates.Kind kind) {
        return templates.getOrDefault(kind, MailTemplates.defaultFor(kind));
    }

    static TenantMailSettings read(Connection connection) throws SQLException {
        try (PreparedStatement select = connection.prepareStatement(
                "SELECT mail_from, require_verified_email, templates::text FROM mail_settings WHERE id = 1");
             ResultSet rs = select.executeQuery()) {
            if (!rs.next()) {
                return DEFAULTS;
            }
            Map<MailTemplates.Kind, MailTemplates.Template> templates = new EnumMap<>(MailTemplates.Kind.class);
            try {
                JSON.readTree(rs.getString(3)).properties().forEach(entry -> MailTemplates.Kind.parse(entry.getKey())
                        .ifPresent(kind -> templates.put(kind, new MailTemplates.Template(entry.getValue().path("subject").asText(),
                                entry.getValue().path("text").asText(), entry.getValue().path("html").asText()))));
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new SQLException("mail_settings.templates is not JSON", e);
            }
            return new TenantMailSettings(Optional.ofNullable(rs.getString(1)), rs.getBoolean(2), templates);
        }
    }

    /** Locks the row (creating it when absent), so two changes of the settings never lose one another. */
    static TenantMailSettings lock(Connection connection, Instant now) throws SQLException {
        try (PreparedStatement insert = connection.prepareStatement(
                "INSERT INTO mail_settings (id, updated_at) VALUES (1, ?) ON CONFLICT (id) DO NOTHING")) {
            insert.setTimestamp(1, Timestamp.from(now));
            insert.executeUpdate();
        }
        try (PreparedStatement lock = connection.prepareStatement("SELECT 1 FROM mail_settings WHERE id = 1 FOR UPDATE")) {
            lock.executeQuery().close();
        }
        return read(connection);
    }

    void write(Connection connection, Instant now) throws SQLException {
        ObjectNode json = JSON.createObjectNode();
        templates.forEach((kind, template) -> json.putObject(kind.wireName())
                .put("subject", template.subject()).put("text", template.text()).put("html", template.html()));
        try (PreparedStatement update = connection.prepareStatement("""
                UPDATE mail_settings SET mail_from = ?, require_verified_email = ?, templates = ?::jsonb, updated_at = ? WHERE id = 1
                """)) {
            update.setString(1, mailFrom.orElse(null));
            update.setBoolean(2, requireVerifiedEmail);
            update.setString(3, json.toString());
            update.setTimestamp(4, Timestamp.from(now));
            update.executeUpdate();
        }
    }

    /** What {@code GET /t/{tenant}/settings/mail} shows: the templates in force, the tenant's own and the defaults. */
    Map<String, Object> view(String platformFrom) {
        Map<String, Object> view = new java.util.LinkedHashMap<>();
        view.put("mail_from", mailFrom.orElse(null));
        view.put("effective_mail_from", mailFrom.orElse(platformFrom));
        view.put("require_verified_email", requireVerifiedEmail);
        Map<String, Object> all = new java.util.LinkedHashMap<>();
        for (MailTemplates.Kind kind : MailTemplates.Kind.values()) {
            MailTemplates.Template template = template(kind);
            Map<String, Object> one = new java.util.LinkedHashMap<>();
            one.put("custom", templates.containsKey(kind));
            one.put("subject", template.subject());
            one.put("text", template.text());
            one.put("html", template.html());
            all.put(kind.wireName(), one);
        }
        view.put("templates", all);
        return view;
    }

    static JsonNode parseJson(String text) throws com.fasterxml.jackson.core.JsonProcessingException {
        return JSON.readTree(text);
    }
}
