package dev.silo.tenant;

import java.util.Locale;

public enum TenantStatus {
    PROVISIONING, ACTIVE, SUSPENDED, DEPROVISIONED, PURGED;

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static TenantStatus fromWire(String value) {
        return valueOf(value.toUpperCase(Locale.ROOT));
    }
}
