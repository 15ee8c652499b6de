-- The tenants whose outbox may hold mail to send (issue 19.1): set (its generation bumped) in the transaction that
-- writes a mail, before that commits; cleared by the mail worker when it finds the outbox empty and the generation
-- unchanged since it began to look. A node's start and its hourly sweep look only at these tenants' databases, so
-- thousands of tenants are not polled. A full sweep of every active tenant runs once a day besides.
CREATE TABLE mail_pending (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    generation  bigint NOT NULL
);
