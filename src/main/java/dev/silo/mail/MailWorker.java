package dev.silo.mail;

import dev.silo.audit.TenantAudit;
import dev.silo.platform.config.MailConfig;
import dev.silo.platform.problem.Problem;
import dev.silo.tenant.Tenant;
import dev.silo.tenant.TenantDatabases;
import dev.silo.tenant.TenantDirectory;
import dev.silo.tenant.TenantService;
import dev.silo.tenant.TenantStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static java.util.Objects.requireNonNull;

/**
 * Sends the outboxes of the tenants, in the background: a request only writes its outbox row and never waits for
 * SMTP.
 *
 * <p>Tenants are many, so no tenant database is polled: a tenant's outbox is drained when a row is written (a hint:
 * on this node at once, on the others through the catalog event {@code mail:<tenant id>:<slug>}), when one of its
 * rows comes due for a retry (a timer per tenant, from the earliest {@code next_attempt_at}), and by a sweep of the
 * tenants the catalog flags as having mail pending ({@link MailPending}) at start and then hourly, which finds what
 * a crash or a stop left behind; a full sweep of every active tenant runs once a day besides.
 *
 * <p>Each row is sent in its own transaction, under its row lock ({@code FOR UPDATE SKIP LOCKED}), then marked
 * sent in the same transaction: two nodes never send one row at the same time, and a node that dies mid-send
 * releases the lock with its connection, so the row is sent again later. SMTP has no two-phase commit, so a crash
 * after the server accepted the mail and before the commit sends it twice: at least once, never lost; the
 * Message-ID is the same on every attempt, so a duplicate is recognisable. Sends run on virtual threads, whose
 * socket I/O an interrupt ends, so a stopping node does not hang on a silent server.
 */
public final class MailWorker implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MailWorker.class);
    static final int CONCURRENT_TENANTS = 4;

    private final MailSender sender;
    private final MailConfig config;
    private final MailOutbox outbox;
    private final TenantDatabases databases;
    private final TenantDirectory directory;
    private final TenantService tenants;
    private final TenantAudit audit;
    private final Clock clock;
    private final dev.silo.platform.db.CatalogEvents events;
    private final javax.sql.DataSource catalog;
    private final MailPending pending;
    private final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor(
            Thread.ofPlatform().daemon().name("silo-mail-timer").factory());
    private final ExecutorService sends = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("silo-mail-", 0).factory());
    private final Semaphore slots = new Semaphore(CONCURRENT_TENANTS);
    /** Tenants with a drain queued or running; {@code true} when another hint came while it ran. */
    private final ConcurrentHashMap<UUID, Boolean> draining = new ConcurrentHashMap<>();
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong failedAttempts = new AtomicLong();
    private volatile boolean closed;

    MailWorker(MailSender sender, MailConfig config, MailOutbox outbox, TenantDatabases databases, TenantDirectory directory,
               TenantService tenants, TenantAudit audit, Clock clock, dev.silo.platform.db.CatalogEvents events,
               javax.sql.DataSource catalog, MailPending pending) {
        this.pending = requireNonNull(pending, "pending is null");
        this.events = requireNonNull(events, "events is null");
        this.catalog = requireNonNull(catalog, "catalog is null");
        this.sender = requireNonNull(sender, "sender is null");
        this.config = requireNonNull(config, "config is null");
        this.outbox = requireNonNull(outbox, "outbox is null");
        this.databases = requireNonNull(databases, "databases is null");
        this.directory = requireNonNull(directory, "directory is null");
        this.tenants = requireNonNull(tenants, "tenants is null");
        this.audit = requireNonNull(audit, "audit is null");
        this.clock = requireNonNull(clock, "clock is null");
    }

    /** Starts the sweeps: of the flagged tenants soon after start, then hourly; of every active tenant daily. */
    void start() {
        timers.scheduleWithFixedDelay(() -> submit(this::sweepFlagged), 1, 3600, TimeUnit.SECONDS);
        timers.scheduleWithFixedDelay(() -> submit(this::sweepAll), 24, 24, TimeUnit.HOURS);
        log.info("Mail goes through {}", sender.describe());
    }

    /** Mails sent by this node since it started. */
    public long sent() {
        return sent.get();
    }

    /** Attempts of this node that did not reach the server or were refused. */
    public long failedAttempts() {
        return failedAttempts.get();
    }

    /** A catalog event: {@code mail:<tenant id>:<slug>} says a row was written on some node. */
    void onEvent(String payload) {
        if (!payload.startsWith("mail:")) {
            return;
        }
        String[] parts = payload.split(":", 3);
        if (parts.length == 3) {
            submit(() -> resolve(parts[2]).ifPresent(this::drain));
        }
    }

    /** Drains the tenant's outbox soon; hints for a tenant already being drained make it look once more. */
    void wake(Tenant tenant) {
        submit(() -> drain(tenant));
    }

    /**
     * After the transaction that wrote a row committed: tells every node (the catalog event, dispatched here too),
     * off the request's thread, so that a request that wrote mail takes no longer than one that did not.
     */
    void hint(Tenant tenant) {
        submit(() -> events.announce(catalog, "mail:" + tenant.id() + ":" + tenant.slug()));
    }

    /**
     * For a row written in a transaction this class cannot see the end of (a password change): looks after a
     * second, and again later in case that transaction took longer.
     */
    void wakeLater(Tenant tenant) {
        if (closed) {
            return;
        }
        try {
            timers.schedule(() -> wake(tenant), 1, TimeUnit.SECONDS);
            timers.schedule(() -> wake(tenant), 15, TimeUnit.SECONDS);
        } catch (RejectedExecutionException e) {
            // stopping
        }
    }

    private void submit(Runnable work) {
        if (closed) {
            return;
        }
        try {
            sends.execute(() -> {
                try {
                    slots.acquire();
                } catch (InterruptedException e) {
                    return;
                }
                try {
                    work.run();
                } catch (RuntimeException e) {
                    if (!closed) {
                        log.warn("Mail worker: {}", e.toString());
                    }
                } finally {
                    slots.release();
                }
            });
        } catch (RejectedExecutionException e) {
            // stopping
        }
    }

    private Optional<Tenant> resolve(String slug) {
        try {
            return Optional.of(directory.requireServing(slug).tenant());
        } catch (Problem e) {
            return Optional.empty(); // suspended, gone or restoring: its mail waits for the next sweep
        }
    }

    /** The tenants the catalog flags as having mail pending (a crash, a retry due, a stop mid-send). */
    private void sweepFlagged() {
        for (String slug : pending.flaggedSlugs()) {
            if (closed) {
                return;
            }
            try {
                resolve(slug).ifPresent(this::drain);
            } catch (RuntimeException e) {
                if (!closed) {
                    log.warn("Mail sweep of tenant {}: {}", slug, e.toString());
                }
            }
        }
    }

    /**
     * Every active tenant, one after another: what a flag cleared by a race (a drain that ended between a mail's
     * flag and its commit, then a crash before its hint) would otherwise leave unsent.
     */
    private void sweepAll() {
        for (Tenant tenant : tenants.list(false)) {
            if (closed) {
                return;
            }
            if (tenant.status() != TenantStatus.ACTIVE) {
                continue;
            }
            try {
                Optional<Tenant> serving = resolve(tenant.slug());
                if (serving.isPresent() && databases.withConnection(serving.get(), MailOutbox::nextDue).isPresent()) {
                    drain(serving.get());
                }
            } catch (RuntimeException e) {
                if (!closed) {
                    log.warn("Mail sweep of tenant {}: {}", tenant.slug(), e.toString());
                }
            }
        }
    }

    private void drain(Tenant tenant) {
        if (draining.putIfAbsent(tenant.id(), false) != null) {
            draining.put(tenant.id(), true); // the running drain looks again before it ends
            return;
        }
        try {
            java.util.OptionalLong generation = pending.generation(tenant.id());
            boolean again = true;
            while (again && !closed) {
                while (!closed && sendOne(tenant)) {
                    // next row
                }
                again = Boolean.TRUE.equals(draining.replace(tenant.id(), false));
            }
            if (!closed) {
                Optional<Instant> nextDue = databases.withConnection(tenant, MailOutbox::nextDue);
                nextDue.ifPresent(next -> {
                    long delay = Math.max(0, Duration.between(clock.instant(), next).toMillis()) + 50;
                    try {
                        timers.schedule(() -> wake(tenant), delay, TimeUnit.MILLISECONDS);
                    } catch (RejectedExecutionException e) {
                        // stopping
                    }
                });
                if (nextDue.isEmpty() && generation.isPresent()) {
                    pending.clear(tenant.id(), generation.getAsLong()); // unless a mail was flagged since we looked
                }
            }
        } finally {
            if (!draining.remove(tenant.id(), false)) {
                draining.remove(tenant.id()); // a hint came after the last look: look once more
                wake(tenant);
            }
        }
    }

    /** Sends the tenant's oldest due row, if any; whether there was one. */
    private boolean sendOne(Tenant tenant) {
        return databases.inTransaction(tenant, connection -> {
            Instant now = clock.instant();
            Optional<MailOutbox.Pending> claimed = outbox.claimDue(connection, tenant, now);
            if (claimed.isEmpty()) {
                return false;
            }
            MailOutbox.Pending mail = claimed.get();
            TenantMailSettings settings = TenantMailSettings.read(connection);
            Map<String, String> values = new LinkedHashMap<>(mail.params());
            values.put("tenant_name", tenant.name() == null || tenant.name().isBlank() ? tenant.slug() : tenant.name());
            mail.secret().ifPresent(token -> values.put("token", token));
            MailTemplates.Rendered rendered = MailTemplates.render(settings.template(mail.kind()), values);
            String from = settings.mailFrom().orElse(config.platformFrom());
            try {
                sender.send(new MailSender.Outgoing(from, mail.recipient(), rendered.subject(), rendered.text(), rendered.html(),
                        mail.messageId(), mail.createdAt()));
            } catch (MailSender.SendFailure e) {
                failedAttempts.incrementAndGet();
                Instant after = clock.instant();
                if (e.permanent() || mail.attempts() + 1 >= config.maxAttempts()) {
                    MailOutbox.markFailed(connection, mail.id(), after, e.getMessage());
                    Map<String, Object> detail = new LinkedHashMap<>();
                    detail.put("mail_id", mail.id().toString());
                    detail.put("kind", mail.kind().wireName());
                    detail.put("attempts", mail.attempts() + 1);
                    detail.put("error", e.getMessage());
                    audit.append(connection, TenantAudit.Context.SYSTEM, "mail.failed", mail.params().get("user_id"), detail);
                    log.warn("Gave up mail {} of tenant {} after {} attempt(s): {}", mail.id(), tenant.slug(), mail.attempts() + 1,
                            e.getMessage());
                } else {
                    Instant next = after.plus(MailOutbox.backoff(Duration.ofSeconds(config.retrySeconds()), mail.attempts() + 1));
                    MailOutbox.markRetry(connection, mail.id(), next, e.getMessage());
                    log.info("Mail {} of tenant {} not sent (attempt {}), next try at {}: {}", mail.id(), tenant.slug(),
                            mail.attempts() + 1, next, e.getMessage());
                }
                return false; // the next rows wait for the timer: the server is likely down for them too
            }
            MailOutbox.markSent(connection, mail.id(), clock.instant());
            sent.incrementAndGet();
            return true;
        });
    }

    /**
     * Stops: sends in flight get a few seconds to finish (so a deploy does not send them twice), then are
     * interrupted, which rolls their transactions back; those rows are sent by the next node to look.
     */
    @Override
    public void close() {
        closed = true;
        timers.shutdownNow();
        sends.shutdown();
        try {
            if (!sends.awaitTermination(3, TimeUnit.SECONDS)) {
                sends.shutdownNow();
                if (!sends.awaitTermination(10, TimeUnit.SECONDS)) {
                    log.warn("Mail worker: a send still runs 13 s after the stop began");
                }
            }
        } catch (InterruptedException e) {
            sends.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
