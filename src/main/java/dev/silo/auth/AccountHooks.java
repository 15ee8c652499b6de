package dev.silo.auth;

import dev.silo.tenant.Tenant;
import dev.silo.user.User;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Optional;
import java.util.UUID;

/**
 * What a feature above {@code auth} adds to logins and password changes without {@code auth} depending on it: the
 * e-mail flows (dev.silo.mail) refuse unverified users and mail a notice when a password changes. Each call runs
 * in the transaction of the change, so what it writes (an outbox row) commits or rolls back with it.
 */
public interface AccountHooks {
    AccountHooks NONE = new AccountHooks() {};

    /** After the password verified and before the second factor (no MFA ticket for a refused login); may refuse with a problem. */
    default void beforeLogin(Connection connection, Tenant tenant, User user) throws SQLException {}

    /**
     * In the transaction that set a new password: changed by the user ({@code resetTokenHash} empty) or reset with a
     * one-time token (its SHA-256).
     */
    default void passwordChanged(Connection connection, Tenant tenant, UUID userId, Optional<String> resetTokenHash)
            throws SQLException {}
}
