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

    static boolean isTimestamp(String text) {
        try {
            // RFC 3339 section 5.6 allows a lower-case 't' and 'z'
            OffsetDateTime.parse(text.toUpperCase(Locale.ROOT), DateTimeFormatter.ISO_OFFSET_DATE_TIME);
            return true;
        } catch (DateTimeParseException e) {
            return false;
        }
    }
}
