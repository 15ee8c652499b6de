package dev.silo.mail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.silo.audit.Actor;
import dev.silo.auth.Caller;
import dev.silo.auth.TenantRequests;
import dev.silo.operator.OperatorAuth;
import dev.silo.platform.http.Json;
import dev.silo.platform.http.Routes;
import dev.silo.platform.problem.BadRequest;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantDirectory;
import dev.silo.user.User;
import io.helidon.http.HeaderNames;
import io.helidon.http.Status;

import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static java.util.Objects.requireNonNull;

/** The e-mail flows' routes (issue 19.1): forgot password, verification, invitations, and the mail settings. */
public final class MailRoutes {
    private static final Map<String, String> ACCEPTED = Map.of("detail",
            "if the address belongs to an account of this tenant, a mail is on its way");

    private final TenantRequests requests;
    private final AccountMail mail;
    private final TenantDirectory directory;
    private final OperatorAuth operators;

    MailRoutes(TenantRequests requests, AccountMail mail, TenantDirectory directory, OperatorAuth operators) {
        this.requests = requireNonNull(requests, "requests is null");
        this.mail = requireNonNull(mail, "mail is null");
        this.directory = requireNonNull(directory, "directory is null");
        this.operators = requireNonNull(operators, "operators is null");
    }

    record EmailBody(String email) {}

    record TokenBody(String token) {}

    record InviteBody(String email, String role) {}

    record AcceptBody(String token, String password) {}

    public void register(Routes routes) {
        routes.post("/t/{tenant}/auth/forgot-password", (request, response) -> {
            var tenant = requests.tenant(request);
            EmailBody body = Json.read(request, EmailBody.class);
            mail.forgotPassword(tenant, body.email(), TenantRequests.context(request));
            Json.send(response, Status.ACCEPTED_202, ACCEPTED);
        });
        routes.post("/t/{tenant}/auth/verify-email/resend", (request, response) -> {
            var tenant = requests.tenant(request);
            EmailBody body = Json.read(request, EmailBody.class);
            mail.resendVerification(tenant, body.email(), TenantRequests.context(request));
            Json.send(response, Status.ACCEPTED_202, ACCEPTED);
        });
        routes.post("/t/{tenant}/auth/verify-email", (request, response) -> {
            var tenant = requests.tenant(request);
            TokenBody body = Json.read(request, TokenBody.class);
            mail.verifyEmail(tenant, body.token(), TenantRequests.context(request));
            response.status(Status.NO_CONTENT_204).send();
        });
        routes.post("/t/{tenant}/auth/accept-invitation", (request, response) -> {
            var tenant = requests.tenant(request);
            AcceptBody body = Json.read(request, AcceptBody.class);
            User user = mail.acceptInvitation(tenant, body.token(), body.password(), TenantRequests.context(request));
            Json.send(response, Status.CREATED_201, user.view());
        });
        routes.post("/t/{tenant}/invitations", (request, response) -> {
            Caller caller = requests.caller(request);
            InviteBody body = Json.read(request, InviteBody.class);
            AccountMail.Invitation invitation = mail.invite(caller, body.email(), body.role());
            response.header(HeaderNames.LOCATION, "/t/" + caller.tenant().slug() + "/invitations/" + invitation.id());
            Json.send(response, Status.CREATED_201, invitation);
        });
        routes.get("/t/{tenant}/invitations", (request, response) -> {
            Caller caller = requests.caller(request);
            Json.ok(response, Map.of("invitations", mail.pendingInvitations(caller)));
        });
        routes.delete("/t/{tenant}/invitations/{id}", (request, response) -> {
            Caller caller = requests.caller(request);
            mail.revokeInvitation(caller, TenantRequests.uuid(request, "id"));
            response.status(Status.NO_CONTENT_204).send();
        });
        routes.get("/t/{tenant}/settings/mail", (request, response) -> {
            Caller caller = requests.admin(request);
            Json.ok(response, mail.settings(caller.tenant()));
        });
        routes.patch("/t/{tenant}/settings/mail", (request, response) -> {
            Caller caller = requests.admin(request);
            AccountMail.SettingsChange change = change(Json.readObject(request), Set.of("mail_from", "require_verified_email", "templates"));
            Json.ok(response, mail.updateSettings(caller.tenant(), Optional.of(caller), caller.audit(), change));
        });
        routes.get("/admin/tenants/{slug}/mail", (request, response) -> {
            operators.require(request);
            // a read: served during a move's write freeze too
            Tenant tenant = directory.requireServing(request.path().pathParameters().get("slug"), false).tenant();
            Json.ok(response, mail.settings(tenant));
        });
        routes.patch("/admin/tenants/{slug}/mail", (request, response) -> {
            Actor actor = operators.require(request);
            Tenant tenant = directory.requireServing(request.path().pathParameters().get("slug")).tenant();
            AccountMail.SettingsChange change = change(Json.readObject(request), Set.of("mail_from"));
            Json.ok(response, mail.updateByOperator(tenant, actor, change));
        });
    }

    /** The fields of a settings PATCH; any other field is refused, naming the ones this route takes. */
    private static AccountMail.SettingsChange change(JsonNode body, Set<String> allowed) {
        body.fieldNames().forEachRemaining(field -> {
            if (!allowed.contains(field)) {
                throw new BadRequest("invalid-request", "unknown field '" + field + "' (this route takes "
                        + allowed.stream().sorted().toList() + ")");
            }
        });
        Optional<Optional<String>> mailFrom = Optional.empty();
        if (body.has("mail_from")) {
            JsonNode value = body.get("mail_from");
            if (!value.isNull() && !value.isTextual()) {
                throw new BadRequest("invalid-mail-from", "mail_from must be an address or null (the platform's sender)");
            }
            mailFrom = Optional.of(value.isNull() ? Optional.empty() : Optional.of(value.asText().strip()));
        }
        Optional<Boolean> require = Optional.empty();
        if (body.has("require_verified_email")) {
            if (!body.get("require_verified_email").isBoolean()) {
                throw new BadRequest("invalid-request", "field 'require_verified_email' must be true or false");
            }
            require = Optional.of(body.get("require_verified_email").booleanValue());
        }
        Map<MailTemplates.Kind, Optional<MailTemplates.Template>> templates = new EnumMap<>(MailTemplates.Kind.class);
        if (body.has("templates")) {
            JsonNode all = body.get("templates");
            if (!all.isObject()) {
                throw new BadRequest("invalid-template", "templates is an object: {kind: {subject, text, html} or null}");
            }
            all.properties().forEach(entry -> {
                MailTemplates.Kind kind = MailTemplates.Kind.parse(entry.getKey()).orElseThrow(() -> new BadRequest("invalid-template",
                        "the kinds of mail are " + java.util.Arrays.stream(MailTemplates.Kind.values()).map(MailTemplates.Kind::wireName).toList()));
                JsonNode value = entry.getValue();
                if (value.isNull()) {
                    templates.put(kind, Optional.empty());
                    return;
                }
                for (String part : new String[] {"subject", "text", "html"}) {
                    if (!value.path(part).isTextual()) {
                        throw new BadRequest("invalid-template", "the template '" + kind.wireName() + "' needs subject, text and html strings");
                    }
                }
                templates.put(kind, Optional.of(new MailTemplates.Template(value.get("subject").asText(), value.get("text").asText(),
                        value.get("html").asText())));
            });
        }
        return new AccountMail.SettingsChange(mailFrom, require, templates);
    }
}
