package dev.silo.mail;

import dev.silo.platform.problem.BadRequest;

import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * The mails Silo sends, each a subject, a plain-text and an HTML body with {@code {{name}}} placeholders. A tenant's
 * admin may replace any of them; Silo's defaults apply otherwise. Every value put into a placeholder is escaped for
 * HTML in the HTML body and stripped of line breaks in the subject, so no user input (an e-mail address, a tenant
 * name) is ever rendered as markup or as a header. The template text itself is the admin's own content.
 */
final class MailTemplates {
    private static final Pattern PLACEHOLDER = Pattern.compile("\\{\\{\\s*([a-z_]+)\\s*}}");
    static final int MAX_LENGTH = 20_000;

    /** The kinds of mail, with the placeholders each may use. */
    enum Kind {
        PASSWORD_RESET("password-reset", Set.of("tenant_name", "email", "token", "expires_at")),
        INVITATION("invitation", Set.of("tenant_name", "email", "token", "expires_at", "role")),
        EMAIL_VERIFICATION("email-verification", Set.of("tenant_name", "email", "token", "expires_at")),
        PASSWORD_CHANGED("password-changed", Set.of("tenant_name", "email", "changed_at"));

        private final String wireName;
        private final Set<String> placeholders;

        Kind(String wireName, Set<String> placeholders) {
            this.wireName = wireName;
            this.placeholders = placeholders;
        }

        String wireName() {
            return wireName;
        }

        static Optional<Kind> parse(String name) {
            for (Kind kind : values()) {
                if (kind.wireName.equals(name)) {
                    return Optional.of(kind);
                }
            }
            return Optional.empty();
        }
    }

    record Template(String subject, String text, String html) {
        Template {
            requireNonNull(subject, "subject is null");
            requireNonNull(text, "text is null");
            requireNonNull(html, "html is null");
        }
    }

    record Rendered(String subject, String text, String html) {}

    private static final Map<Kind, Template> DEFAULTS = new EnumMap<>(Kind.class);

    static {
        DEFAULTS.put(Kind.PASSWORD_RESET, new Template("Reset your {{tenant_name}} password",
                """
                Someone asked to reset the password of your {{tenant_name}} account ({{email}}).

                Your one-time reset token, valid until {{expires_at}}:

                {{token}}

                If it was not you, ignore this mail: your password stays as it is.
                """,
                page("""
                <p>Someone asked to reset the password of your {{tenant_name}} account ({{email}}).</p>
                <p>Your one-time reset token, valid until {{expires_at}}:</p>
                <p><code>{{token}}</code></p>
                <p>If it was not you, ignore this mail: your password stays as it is.</p>
                """)));
        DEFAULTS.put(Kind.INVITATION, new Template("You are invited to {{tenant_name}}",
                """
                You are invited to join {{tenant_name}} as {{role}} with the address {{email}}.

                Set your password with this one-time invitation token, valid until {{expires_at}}:

                {{token}}
                """,
                page("""
                <p>You are invited to join {{tenant_name}} as {{role}} with the address {{email}}.</p>
                <p>Set your password with this one-time invitation token, valid until {{expires_at}}:</p>
                <p><code>{{token}}</code></p>
                """)));
        DEFAULTS.put(Kind.EMAIL_VERIFICATION, new Template("Confirm your {{tenant_name}} e-mail address",
                """
                Please confirm that {{email}} is your address for {{tenant_name}}.

                Your one-time verification token, valid until {{expires_at}}:

                {{token}}
                """,
                page("""
                <p>Please confirm that {{email}} is your address for {{tenant_name}}.</p>
                <p>Your one-time verification token, valid until {{expires_at}}:</p>
                <p><code>{{token}}</code></p>
                """)));
        DEFAULTS.put(Kind.PASSWORD_CHANGED, new Template("Your {{tenant_name}} password was changed",
                """
                The password of your {{tenant_name}} account ({{email}}) was changed at {{changed_at}}, and every session
                of the account was ended.

                If it was not you, reset your password at once and tell the administrators of {{tenant_name}}.
                """,
                page("""
                <p>The password of your {{tenant_name}} account ({{email}}) was changed at {{changed_at}}, and every
                session of the account was ended.</p>
                <p>If it was not you, reset your password at once and tell the administrators of {{tenant_name}}.</p>
                """)));
    }

    private static String page(String body) {
        return "<!DOCTYPE html>\n<html><body style=\"font-family: sans-serif\">\n" + body + "</body></html>\n";
    }

    private MailTemplates() {}

    static Template defaultFor(Kind kind) {
        return DEFAULTS.get(kind);
    }

    /**
     * Checks a template an admin sets: every placeholder must be one its kind knows, and each part at most
     * {@value #MAX_LENGTH} characters.
     *
     * @throws BadRequest {@code invalid-template}
     */
    static void validate(Kind kind, Template template) {
        check(kind, "subject", template.subject());
        check(kind, "text", template.text());
        check(kind, "html", template.html());
        if (template.subject().isBlank() || template.subject().length() > 300 || template.subject().matches("(?s).*[\\r\\n].*")) {
            throw new BadRequest("invalid-template", "the subject of '" + kind.wireName() + "' must be one line of 1 to 300 characters");
        }
    }

    private static void check(Kind kind, String part, String text) {
        if (text.length() > MAX_LENGTH) {
            throw new BadRequest("invalid-template", "the " + part + " of '" + kind.wireName() + "' is longer than " + MAX_LENGTH
                    + " characters");
        }
        if (text.indexOf('\u0000') >= 0) {
            throw new BadRequest("invalid-template", "a template cannot contain U+0000");
        }
        Matcher matcher = PLACEHOLDER.matcher(text);
        while (matcher.find()) {
            if (!kind.placeholders.contains(matcher.group(1))) {
                throw new BadRequest("invalid-template", "'" + kind.wireName() + "' knows the placeholders "
                        + kind.placeholders.stream().sorted().map(name -> "{{" + name + "}}").toList() + ", not {{" + matcher.group(1) + "}}");
            }
        }
    }

    /** The mail, with the values escaped for where they land; a placeholder without a value renders empty. */
    static Rendered render(Template template, Map<String, String> values) {
        return new Rendered(
                fill(template.subject(), values, MailTemplates::oneLine),
                fill(template.text(), values, value -> value),
                fill(template.html(), values, MailTemplates::escapeHtml));
    }

    private static String fill(String text, Map<String, String> values, java.util.function.UnaryOperator<String> escape) {
        Matcher matcher = PLACEHOLDER.matcher(text);
        StringBuilder out = new StringBuilder(text.length() + 64);
        while (matcher.find()) {
            String value = values.getOrDefault(matcher.group(1), "");
            matcher.appendReplacement(out, Matcher.quoteReplacement(escape.apply(value)));
        }
        matcher.appendTail(out);
        return out.toString();
    }

    private static String oneLine(String value) {
        return value.replaceAll("[\\p{Cntrl}]", " ");
    }

    /** The five characters that matter in HTML text and in a quoted attribute. */
    static String escapeHtml(String value) {
        StringBuilder out = new StringBuilder(value.length() + 16);
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '<' -> out.append("&lt;");
                case '>' -> out.append("&gt;");
                case '&' -> out.append("&amp;");
                case '"' -> out.append("&quot;");
                case '\'' -> out.append("&#39;");
                default -> out.append(c);
            }
        }
        return out.toString();
    }
}
