package dev.silo.platform.config;

import static java.util.Objects.requireNonNull;

/**
 * A setting with a bad value. The message names the setting and the accepted form, never the value when the
 * setting is a secret. The CLI prints it as one line and exits with status 2.
 */
public final class ConfigException extends RuntimeException {
    private final String setting;

    public ConfigException(String setting, String message) {
        super(requireNonNull(setting, "setting is null") + ": " + requireNonNull(message, "message is null"), null, false, false);
        this.setting = setting;
    }

    public String setting() {
        return setting;
    }
}
