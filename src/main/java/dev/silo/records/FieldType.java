package dev.silo.records;

import com.fasterxml.jackson.databind.JsonNode;

import java.time.OffsetDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Locale;

/** The type of a declared field; {@code timestamp} is an RFC 3339 string with an offset. */
enum FieldType {
    STRING, NUMBER, INTEGER, BOOLEAN, OBJECT, ARRAY, TIMESTAMP;

    String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    static FieldType fromWire(String value) {
        for (FieldType type : values()) {
            if (type.wire().equals(value)) {
                return type;
            }
        }
        return null;
    }

    /** Whether a value (not JSON null) has this type. */
    boolean accepts(JsonNode value) {
        return switch (this) {
            case STRING -> value.isTextual();
            case NUMBER -> value.isNumber();
            case INTEGER -> value.isIntegralNumber()
                    || (value.isNumber() && value.decimalValue().stripTrailingZeros().scale() <= 0);
            case BOOLEAN -> value.isBoolean();
            case OBJECT -> value.isObject();
            case ARRAY -> value.isArray();
            case TIMESTAMP -> value.isTextual() && isTimestamp(value.textValue());
        };
    }

    /** Scalars can be compared by equality filters and used as sort keys. */
    boolean scalar() {
        return this != OBJECT && this != ARRAY;
    }

    /**
     * RFC 3339 section 5.6, exactly: a four-digit year, seconds, an optional fraction and an offset ({@code Z} or
     * {@code +hh:mm}, at most 15:59 either way, as PostgreSQL takes); a lower-case {@code t} and {@code z} are
     * allowed. Java's ISO parser alone would also take years beyond 9999, offsets with seconds and offsets up to
     * 18:00, which the database's {@code silo_timestamp} (used to sort and filter as instants) does not.
     */
    static boolean isTimestamp(String text) {
        if (!RFC_3339.matcher(text).matches() || text.startsWith("0000")) {
            return false;
        }
        try {
            OffsetDateTime.parse(text.toUpperCase(Locale.ROOT), DateTimeFormatter.ISO_OFFSET_DATE_TIME);
            return true;
        } catch (DateTimeParseException e) {
            return false;
        }
    }

    private static final java.util.regex.Pattern RFC_3339 = java.util.regex.Pattern.compile(
            "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-](0[0-9]|1[0-5]):[0-5][0-9])");
}
