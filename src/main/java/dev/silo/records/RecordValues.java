package dev.silo.records;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.silo.platform.http.Json;
import dev.silo.platform.problem.BadRequest;

import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Record data as JSON: parsing with exact decimals and duplicate-key detection, the checks that keep every
 * stored value acceptable to PostgreSQL's {@code jsonb} (so bad input is a 400, never a database error), and
 * JSON Merge Patch (RFC 7396).
 */
final class RecordValues {
    /** A record, and a schema, have at most this many top-level fields. */
    static final int MAX_FIELDS = 1_000;
    /** Digits before and after the decimal point; PostgreSQL's numeric takes more, but no real datum needs it. */
    private static final int MAX_NUMBER_DIGITS = 1_000;

    static final ObjectReader READER = Json.MAPPER.reader()
            .with(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .with(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .without(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES)
            .forType(JsonNode.class);

    private RecordValues() {}

    /** Parses a request body that must be a JSON object; every failure is a 400 naming the cause. */
    static ObjectNode parseObject(byte[] body) {
        if (body.length == 0) {
            throw new BadRequest("malformed-json", "the request body is empty; expected a JSON object");
        }
        JsonNode node;
        try {
            node = READER.readValue(body);
        } catch (JsonProcessingException e) {
            throw Json.malformed(e);
        } catch (IOException | RuntimeException e) {
            throw new BadRequest("malformed-json", "the request body is not valid JSON");
        }
        if (node == null || !node.isObject()) {
            throw new BadRequest("invalid-request", "expected a JSON object, got "
                    + (node == null ? "nothing" : describe(node)));
        }
        return (ObjectNode) node;
    }

    /** Parses stored JSON (from the database or a decrypted value); failures here are not the client's. */
    static JsonNode parseStored(String json) {
        try {
            return READER.readValue(json);
        } catch (IOException e) {
            throw new IllegalStateException("stored JSON does not parse", e);
        }
    }

    static String write(JsonNode node) {
        try {
            return Json.MAPPER.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialize JSON", e);
        }
    }

    /** At most {@link #MAX_FIELDS} fields, and only strings and numbers that {@code jsonb} stores faithfully. */
    static void checkStorable(ObjectNode data) {
        if (data.size() > MAX_FIELDS) {
            throw new BadRequest("too-many-fields", "a record has at most " + MAX_FIELDS + " fields, this one " + data.size(),
                    Map.of("limit", MAX_FIELDS));
        }
        checkNode(data, "");
    }

    private static void checkNode(JsonNode node, String path) {
        if (node.isObject()) {
            for (Map.Entry<String, JsonNode> entry : node.properties()) {
                checkText(entry.getKey(), path + "/" + shorten(entry.getKey()), "a field name");
                checkNode(entry.getValue(), path + "/" + shorten(entry.getKey()));
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                checkNode(node.get(i), path + "/" + i);
            }
        } else if (node.isTextual()) {
            checkText(node.textValue(), path, "a string");
        } else if (node.isBigDecimal() || node.isDouble() || node.isFloat()) {
            BigDecimal value = node.decimalValue();
            // in long: 1e2147483648 has scale Integer.MIN_VALUE, and precision - scale overflows an int
            if ((long) value.precision() - value.scale() > MAX_NUMBER_DIGITS || value.scale() > MAX_NUMBER_DIGITS) {
                throw new BadRequest("number-out-of-range", "the number at " + location(path) + " has more than "
                        + MAX_NUMBER_DIGITS + " digits before or after the decimal point");
            }
        } else if (node.isBigInteger()) {
            BigInteger value = node.bigIntegerValue();
            if (value.abs().toString().length() > MAX_NUMBER_DIGITS) {
                throw new BadRequest("number-out-of-range", "the number at " + location(path) + " has more than "
                        + MAX_NUMBER_DIGITS + " digits");
            }
        }
    }

    /** PostgreSQL's jsonb refuses U+0000, and a lone surrogate cannot be encoded in UTF-8 without loss. */
    private static void checkText(String text, String path, String what) {
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == 0) {
                throw new BadRequest("invalid-string", what + " at " + location(path) + " contains U+0000, which cannot be stored");
            }
            if (Character.isHighSurrogate(c) && i + 1 < text.length() && Character.isLowSurrogate(text.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                throw new BadRequest("invalid-string", what + " at " + location(path) + " contains an unpaired UTF-16 surrogate");
            }
        }
    }

    private static String location(String path) {
        return path.isEmpty() ? "the top level" : "'" + path + "'";
    }

    /** RFC 7396 section 2: a null member removes, an object merges recursively, anything else replaces. */
    static JsonNode mergePatch(JsonNode target, JsonNode patch) {
        if (!patch.isObject()) {
            return patch;
        }
        ObjectNode result = target != null && target.isObject()
                ? ((ObjectNode) target).deepCopy()
                : JsonNodeFactory.instance.objectNode();
        for (Map.Entry<String, JsonNode> entry : patch.properties()) {
            if (entry.getValue().isNull()) {
                result.remove(entry.getKey());
            } else {
                result.set(entry.getKey(), mergePatch(result.get(entry.getKey()), entry.getValue()));
            }
        }
        return result;
    }

    static String describe(JsonNode value) {
        return switch (value.getNodeType()) {
            case STRING -> "a string";
            case NUMBER -> value.isIntegralNumber() ? "an integer" : "a number";
            case BOOLEAN -> "a boolean";
            case OBJECT -> "an object";
            case ARRAY -> "an array";
            case NULL -> "null";
            default -> value.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
        };
    }

    /** A client-supplied name, cut short for a problem detail. */
    static String shorten(String text) {
        return text.length() <= 80 ? text : text.substring(0, 77) + "...";
    }

    static List<String> names(ObjectNode node) {
        List<String> names = new ArrayList<>();
        node.fieldNames().forEachRemaining(names::add);
        return names;
    }
}
