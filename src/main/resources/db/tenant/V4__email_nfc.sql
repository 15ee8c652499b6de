-- E-mails are compared in Unicode NFC from this version on (UserService.canonicalEmail: trim, NFC, lower-case
-- with the root locale, NFC). Stored canonical forms were trimmed and lower-cased by the same Java code, so only
-- the composition can change: the composed and decomposed spellings of "zoë" become one address.
--
-- Two accounts whose addresses differed only in composition now collide. The one that keeps the address is the
-- one already stored in NFC (the form nearly every keyboard sends), otherwise the oldest. Each other one keeps its
-- row and its old (non-NFC, still unique) stored form, which no login can reach any more; it is disabled and its
-- sessions are ended, so that a look-alike account does not keep access. Its admins see it, disabled, in
-- GET /users and can delete it. Nothing is deleted here.
DO $$
DECLARE
    r record;
BEGIN
    -- normalize() needs a UTF8 database; Silo creates every tenant database with ENCODING 'UTF8'.
    IF current_setting('server_encoding') <> 'UTF8' THEN
        RETURN;
    END IF;
    -- The loop's query is evaluated once, before any of the updates below.
    FOR r IN
        SELECT * FROM (
            SELECT id, email, disabled,
                   normalize(email_normalized, NFC) AS canonical,
                   email_normalized <> normalize(email_normalized, NFC) AS changes,
                   row_number() OVER (PARTITION BY normalize(email_normalized, NFC)
                                      ORDER BY email_normalized = normalize(email_normalized, NFC) DESC, created_at, id) AS rank
            FROM users
        ) ranked
        WHERE rank > 1 OR changes OR email <> normalize(email, NFC)
    LOOP
        IF r.rank > 1 THEN
            UPDATE users SET disabled = true, token_epoch = token_epoch + 1, updated_at = now()
            WHERE id = r.id AND NOT disabled;
            UPDATE sessions SET revoked_at = now(),
                                revoked_reason = 'e-mail collides with another account after Unicode normalisation'
            WHERE user_id = r.id AND revoked_at IS NULL;
        ELSE
            UPDATE users SET email_normalized = r.canonical, email = normalize(r.email, NFC) WHERE id = r.id;
        END IF;
    END LOOP;
END
$$;
