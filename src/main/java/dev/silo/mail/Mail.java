package dev.silo.mail;

import dev.silo.audit.PlatformAudit;
import dev.silo.audit.TenantAudit;
import dev.silo.auth.AccountHooks;
import dev.silo.auth.HashingGate;
import dev.silo.auth.PasswordHasher;
import dev.silo.auth.PasswordPolicy;
import dev.silo.auth.TenantRequests;
import dev.silo.operator.OperatorAuth;
import dev.silo.platform.config.MailConfig;
import dev.silo.platform.crypto.Envelope;
import dev.silo.platform.db.CatalogEvents;
import dev.silo.tenant.TenantDatabases;
import dev.silo.tenant.TenantDirectory;
import dev.silo.tenant.TenantService;
import dev.silo.user.UserService;

import javax.sql.DataSource;
import java.time.Clock;
import java.util.Optional;

import static java.util.Objects.requireNonNull;

/**
 * The e-mail feature, wired: the worker (only when {@code SILO_SMTP_URL} is set), the flows and their routes. Close
 * it before the tenant pools close: the worker's sends in flight finish or roll back first.
 */
public final class Mail implements AutoCloseable {
    private final Optional<MailWorker> worker;
    private final AccountMail flows;
    private final TenantDirectory directory;

    /** The parts of the node the mail feature uses. */
    public record Parts(MailConfig config, Envelope envelope, TenantDatabases databases, TenantDirectory directory,
                        TenantService tenants, UserService users, PasswordHasher hasher, PasswordPolicy policy, HashingGate gate,
                        TenantAudit audit, PlatformAudit platformAudit, DataSource catalog, CatalogEvents events, Clock clock) {
        public Parts {
            requireNonNull(config, "config is null");
            requireNonNull(envelope, "envelope is null");
            requireNonNull(databases, "databases is null");
            requireNonNull(directory, "directory is null");
            requireNonNull(tenants, "tenants is null");
            requireNonNull(users, "users is null");
            requireNonNull(hasher, "hasher is null");
            requireNonNull(policy, "policy is null");
            requireNonNull(gate, "gate is null");
            requireNonNull(audit, "audit is null");
            requireNonNull(platformAudit, "platformAudit is null");
            requireNonNull(catalog, "catalog is null");
            requireNonNull(events, "events is null");
            requireNonNull(clock, "clock is null");
        }
    }

    private Mail(Optional<MailWorker> worker, AccountMail flows, TenantDirectory directory) {
        this.worker = worker;
        this.flows = flows;
        this.directory = directory;
    }

    /** Starts the worker when SMTP is configured (it subscribes to {@code events}, and sweeps the outboxes soon). */
    public static Mail start(Parts parts) {
        MailOutbox outbox = new MailOutbox(parts.envelope());
        MailPending pending = new MailPending(parts.catalog());
        Optional<MailWorker> worker = parts.config().smtp().map(smtp -> new MailWorker(new MailSender(parts.config()), parts.config(),
                outbox, parts.databases(), parts.directory(), parts.tenants(), parts.audit(), parts.clock(), parts.events(),
                parts.catalog(), pending));
        worker.ifPresent(started -> {
            parts.events().subscribe(started::onEvent);
            started.start();
        });
        AccountMail flows = new AccountMail(worker, pending, parts.config(), outbox, parts.envelope(), parts.databases(), parts.users(),
                parts.hasher(), parts.policy(), parts.gate(), parts.audit(), parts.platformAudit(), parts.catalog(), parts.clock());
        return new Mail(worker, flows, parts.directory());
    }

    /** What logins and password changes call ({@code AuthService.useAccountHooks}). */
    public AccountHooks hooks() {
        return flows;
    }

    public MailRoutes routes(TenantRequests requests, OperatorAuth operators) {
        return new MailRoutes(requests, flows, directory, operators);
    }

    /** The worker, when SMTP is configured: its counts. */
    public Optional<MailWorker> worker() {
        return worker;
    }

    @Override
    public void close() {
        worker.ifPresent(MailWorker::close);
    }
}
