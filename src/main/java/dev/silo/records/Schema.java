package dev.silo.records;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.silo.platform.problem.BadRequest;

import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Pattern;

import static java.util.Objects.requireNonNull;

/**
 * The declared fields of a collection. A schema is closed: a record holds only declared fields, each of its
 * declared type or JSON null, and every required field. A collection without a schema takes any JSON object.
 */
record Schema(Map<String, Field> fields) {
    static final Pattern FIELD_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,62}");

    record Field(FieldType type, boolean required, boolean encrypted) {
        Field {
            requireNonNull(type, "type is null");
        }
    }

    Schema {
        fields = Collections.unmodifiableMap(new LinkedHashMap<>(fields));
    }

    boolean encrypted(String field) {
        Field declared = fields.get(field);
        return declared != null && declared.encrypted();
    }

    /** Parses {@code {"fields": {name: {"type", "required"?, "encrypted"?}}}}; anything else is a 400 naming the part. */
    static Schema parse(JsonNode body) {
        if (!body.isObject()) {
            throw invalid("the collection body must be a JSON object such as {\"fields\": {...}}");
        }
        for (Iterator<String> names = body.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!name.equals("fields")) {
                throw invalid("unknown member '" + name + "' in the collection body (expected 'fields')");
            }
        }
        JsonNode fields = body.get("fields");
        if (fields == null || !fields.isObject()) {
            throw invalid("'fields' must be an object mapping field names to {\"type\": ...}");
        }
        if (fields.size() > RecordValues.MAX_FIELDS) {
            throw invalid("a schema declares at most " + RecordValues.MAX_FIELDS + " fields, this one " + fields.size());
        }
        Map<String, Field> parsed = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> entry : fields.properties()) {
            String name = entry.getKey();
            if (!FIELD_NAME.matcher(name).matches()) {
                throw invalid("field name '" + RecordValues.shorten(name) + "' must match " + FIELD_NAME.pattern());
            }
            JsonNode definition = entry.getValue();
            if (!definition.isObject()) {
                throw invalid("field '" + name + "' must be an object such as {\"type\": \"string\"}");
            }
            FieldType type = null;
            boolean required = false;
            boolean encrypted = false;
            for (Map.Entry<String, JsonNode> member : definition.properties()) {
                JsonNode value = member.getValue();
                switch (member.getKey()) {
                    case "type" -> {
                        type = value.isTextual() ? FieldType.fromWire(value.textValue()) : null;
                        if (type == null) {
                            throw invalid("field '" + name + "' has an unknown type; one of string, number, integer, "
                                    + "boolean, object, array, timestamp");
                        }
                    }
                    case "required" -> required = flag(name, "required", value);
                    case "encrypted" -> encrypted = flag(name, "encrypted", value);
                    default -> throw invalid("field '" + name + "' has an unknown member '"
                            + RecordValues.shorten(member.getKey()) + "' (expected type, required, encrypted)");
                }
            }
            if (type == null) {
                throw invalid("field '" + name + "' needs a 'type'");
            }
            parsed.put(name, new Field(type, required, encrypted));
        }
        return new Schema(parsed);
    }

    private static boolean flag(String field, String member, JsonNode value) {
        if (!value.isBoolean()) {
            throw invalid("'" + member + "' of field '" + field + "' must be true or false");
        }
        return value.booleanValue();
    }

    private static BadRequest invalid(String detail) {
        return new BadRequest("invalid-schema", detail);
    }

    /** The wire and storage form, the same shape {@link #parse} reads. */
    ObjectNode toJson() {
        ObjectNode root = JsonNodeFactory.instance.objectNode();
        ObjectNode fieldsNode = root.putObject("fields");
        fields.forEach((name, field) -> {
            ObjectNode definition = fieldsNode.putObject(name);
            definition.put("type", field.type().wire());
            definition.put("required", field.required());
            definition.put("encrypted", field.encrypted());
        });
        return root;
    }

    /** Checks plaintext record data against this schema; a violation is a 400 {@code schema-violation} naming the field. */
    void validate(ObjectNode data) {
        for (Map.Entry<String, JsonNode> entry : data.properties()) {
            Field field = fields.get(entry.getKey());
            if (field == null) {
                throw violation(entry.getKey(), "field '" + RecordValues.shorten(entry.getKey())
                        + "' is not declared in the collection's schema");
            }
            JsonNode value = entry.getValue();
            if (value.isNull()) {
                if (field.required()) {
                    throw violation(entry.getKey(), "field '" + entry.getKey() + "' is required and cannot be null");
                }
            } else if (!field.type().accepts(value)) {
                throw violation(entry.getKey(), "field '" + entry.getKey() + "' must be of type " + field.type().wire()
                        + (field.type() == FieldType.TIMESTAMP ? " (an RFC 3339 string such as 2026-01-31T12:00:00Z)" : "")
                        + ", got " + RecordValues.describe(value));
            }
        }
        fields.forEach((name, field) -> {
            if (field.required() && !data.has(name)) {
                throw violation(name, "field '" + name + "' is required");
            }
        });
    }

    private static BadRequest violation(String field, String detail) {
        return new BadRequest("schema-violation", detail, Map.of("field", RecordValues.shorten(field)));
    }
}
