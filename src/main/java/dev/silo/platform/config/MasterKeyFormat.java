package dev.silo.platform.config;

import java.util.Base64;

/**
 * The documented form of a master key: 32 bytes (AES-256) in standard or URL-safe base64, or as 64 hex digits
 * (what Heroku's {@code "generator": "secret"} in {@code app.json} produces).
 */
public final class MasterKeyFormat {
    public static final int KEY_BYTES = 32;

    private MasterKeyFormat() {}

    /** Decodes a master key; the message never echoes the value. */
    public static byte[] decode(String setting, String encoded) {
        byte[] raw;
        String text = encoded.strip();
        if (text.matches("[0-9a-fA-F]{64}")) {
            return java.util.HexFormat.of().parseHex(text);
        }
        try {
            raw = text.contains("-") || text.contains("_")
                    ? Base64.getUrlDecoder().decode(text)
                    : Base64.getDecoder().decode(text);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(setting, "not valid base64 or hex; expected 32 random bytes in base64 "
                    + "(for example from `openssl rand -base64 32`) or as 64 hex digits");
        }
        if (raw.length != KEY_BYTES) {
            throw new ConfigException(setting, "decodes to " + raw.length + " bytes; expected exactly " + KEY_BYTES
                    + " (for example from `openssl rand -base64 32`)");
        }
        return raw;
    }

    public static String encode(byte[] raw) {
        return Base64.getEncoder().encodeToString(raw);
    }
}
