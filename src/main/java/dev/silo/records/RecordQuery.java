package dev.silo.records;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.silo.platform.problem.BadRequest;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static java.util.Objects.requireNonNull;

/**
 * A listing request: equality filters, one sort key, a page size and a keyset cursor. It compiles to SQL made of
 * fixed fragments only; field names, values and cursor positions are always bound parameters.
 */
record RecordQuery(Map<String, String> filters, String sort, int limit, Optional<String> cursor) {
    static final int MAX_FILTERS = 20;

    RecordQuery {
        filters = Map.copyOf(filters);
        requireNonNull(sort, "sort is null");
        requireNonNull(cursor, "cursor is null");
    }

    /** A system time, a declared field (PostgreSQL's jsonb order), or a declared timestamp (as an instant). */
    enum Key { CREATED_AT, UPDATED_AT, FIELD, TIMESTAMP_FIELD }

    /** The resolved sort: a system time or a declared field, ascending or descending; null and missing first. */
    record Sort(String wire, Key key, String field, boolean descending) {
        boolean declared() {
            return field != null;
        }

        String expression() {
            return switch (key) {
                case CREATED_AT -> "created_at";
                case UPDATED_AT -> "updated_at";
                case FIELD -> "COALESCE(data -> ?::text, 'null'::jsonb)";
                case TIMESTAMP_FIELD -> instant("data ->> ?::text");
            };
        }
    }

    /** A timestamp's text as an instant; null, missing or not a timestamp sorts first. */
    private static String instant(String text) {
        return "COALESCE(silo_timestamp(" + text + "), '-infinity'::timestamptz)";
    }

    /** The SQL text and its parameters, in order. */
    record Compiled(String sql, List<Object> parameters) {}

    static Sort resolveSort(String sort, RecordCollection collection) {
        boolean descending = sort.startsWith("-");
        String name = descending ? sort.substring(1) : sort;
        if (name.equals("created_at")) {
            return new Sort(sort, Key.CREATED_AT, null, descending);
        }
        if (name.equals("updated_at")) {
            return new Sort(sort, Key.UPDATED_AT, null, descending);
        }
        Schema.Field field = collection.schema().map(schema -> schema.fields().get(name)).orElse(null);
        if (field == null) {
            throw new BadRequest("invalid-sort", "cannot sort on '" + RecordValues.shorten(name) + "': sort takes created_at, "
                    + "updated_at or a declared field, with '-' for descending order", Map.of("sort", RecordValues.shorten(sort)));
        }
        if (field.encrypted()) {
            throw new BadRequest("invalid-sort", "cannot sort on '" + name + "': it is encrypted, and the database only "
                    + "holds its ciphertext", Map.of("sort", sort));
        }
        if (!field.type().scalar()) {
            throw new BadRequest("invalid-sort", "cannot sort on '" + name + "': it is of type " + field.type().wire()
                    + "; sort takes a scalar field", Map.of("sort", sort));
        }
        return new Sort(sort, field.type() == FieldType.TIMESTAMP ? Key.TIMESTAMP_FIELD : Key.FIELD, name, descending);
    }

    /**
     * @param resolved the query's sort, {@link #resolveSort resolved} against the collection
     * @param after    where the previous page ended, from a verified cursor ({@link #decode})
     */
    Compiled compile(String select, RecordCollection collection, Sort resolved, Optional<Position> after) {
        StringBuilder sql = new StringBuilder(select).append(" WHERE collection = ?");
        List<Object> parameters = new ArrayList<>();
        parameters.add(collection.name());
        for (Map.Entry<String, String> filter : new java.util.TreeMap<>(filters).entrySet()) {
            appendFilter(sql, parameters, collection, filter.getKey(), filter.getValue());
        }
        if (after.isPresent()) {
            Position position = after.get();
            sql.append(" AND (").append(resolved.expression()).append(", id) ").append(resolved.descending() ? "<" : ">")
                    .append(" (").append(switch (resolved.key()) {
                        case CREATED_AT, UPDATED_AT -> "?";
                        case FIELD -> "?::jsonb";
                        case TIMESTAMP_FIELD -> instant("?::text");
                    }).append(", ?)");
            if (resolved.declared()) {
                parameters.add(resolved.field());
            }
            parameters.add(position.parameter());
            parameters.add(position.id());
        }
        String direction = resolved.descending() ? " DESC" : " ASC";
        sql.append(" ORDER BY ").append(resolved.expression()).append(direction).append(", id").append(direction)
                .append(" LIMIT ?");
        if (resolved.declared()) {
            parameters.add(resolved.field());
        }
        parameters.add(limit + 1);
        return new Compiled(sql.toString(), parameters);
    }

    private static void appendFilter(StringBuilder sql, List<Object> parameters, RecordCollection collection, String field,
                                     String value) {
        if (collection.schema().isEmpty()) {
            // schemaless: compare the text form, so filter[n]=3 matches 3 and "3"
            ObjectNode check = JsonNodeFactory.instance.objectNode();
            check.put(field, value);
            RecordValues.checkStorable(check);
            sql.append(" AND data ->> ?::text = ?");
            parameters.add(field);
            parameters.add(value);
            return;
        }
        Schema.Field declared = collection.schema().get().fields().get(field);
        if (declared == null) {
            throw new BadRequest("invalid-filter", "cannot filter on '" + RecordValues.shorten(field)
                    + "': it is not declared in the collection's schema", Map.of("field", RecordValues.shorten(field)));
        }
        if (declared.encrypted()) {
            throw new BadRequest("invalid-filter", "cannot filter on '" + field + "': it is encrypted, and the database only "
                    + "holds its ciphertext", Map.of("field", field));
        }
        JsonNode typed = typedValue(field, declared.type(), value);
        if (declared.type() == FieldType.TIMESTAMP) {
            // the same instant, whichever offset or precision it was written with
            sql.append(" AND silo_timestamp(data ->> ?::text) = silo_timestamp(?::text)");
            parameters.add(field);
            parameters.add(value);
        } else if (declared.type().scalar()) {
            ObjectNode containment = JsonNodeFactory.instance.objectNode();
            containment.set(field, typed);
            sql.append(" AND data @> ?::jsonb");
            parameters.add(RecordValues.write(containment));
        } else {
            sql.append(" AND data -> ?::text = ?::jsonb");
            parameters.add(field);
            parameters.add(RecordValues.write(typed));
        }
    }

    private static JsonNode typedValue(String field, FieldType type, String value) {
        JsonNodeFactory nodes = JsonNodeFactory.instance;
        try {
            JsonNode typed = switch (type) {
                case STRING, TIMESTAMP -> nodes.textNode(value);
                case NUMBER, INTEGER -> nodes.numberNode(new BigDecimal(value));
                case BOOLEAN -> switch (value) {
                    case "true" -> nodes.booleanNode(true);
                    case "false" -> nodes.booleanNode(false);
                    default -> null;
                };
                case OBJECT, ARRAY -> RecordValues.parseStored(value);
            };
            if (typed != null && (type == FieldType.STRING || type.accepts(typed))) {
                ObjectNode wrapper = nodes.objectNode();
                wrapper.set("value", typed);
                RecordValues.checkStorable(wrapper);
                return typed;
            }
        } catch (NumberFormatException | IllegalStateException e) {
            // reported below
        }
        throw new BadRequest("invalid-filter", "filter value for '" + field + "' must be " + switch (type) {
            case OBJECT, ARRAY -> "a JSON " + type.wire();
            case TIMESTAMP -> "an RFC 3339 timestamp";
            case BOOLEAN -> "true or false";
            default -> "of type " + type.wire();
        }, Map.of("field", field));
    }

    /**
     * Where a page ended: the sort key of its last record and that record's id. {@code parameter} is the key as
     * the SQL binds it: a {@link Timestamp} for the system times, JSON text for a field, a timestamp's text.
     */
    record Position(Object parameter, UUID id) {}

    /** Years 1 to 9999: well inside what PostgreSQL's {@code timestamptz} and {@link Timestamp} hold. */
    private static final Instant EARLIEST = Instant.parse("0001-01-01T00:00:00Z");
    private static final Instant LATEST = Instant.parse("9999-12-31T23:59:59.999999Z");

    /** The payload of the cursor that continues after {@code last}; {@link CursorSigner} signs it. */
    static byte[] encode(Sort sort, StoredRecord last) {
        ObjectNode cursor = JsonNodeFactory.instance.objectNode();
        cursor.put("s", sort.wire());
        switch (sort.key()) {
            case CREATED_AT -> cursor.put("k", last.createdAt().toString());
            case UPDATED_AT -> cursor.put("k", last.updatedAt().toString());
            case FIELD, TIMESTAMP_FIELD -> {
                JsonNode value = last.data().get(sort.field());
                cursor.set("k", value == null ? JsonNodeFactory.instance.nullNode() : value);
            }
        }
        cursor.put("i", last.id().toString());
        return RecordValues.write(cursor).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Reads a verified payload. Its signature proves this API wrote it, so a failure here means a bug or a leaked
     * key; every key is still checked as the SQL will bind it (an instant PostgreSQL holds, storable JSON, a valid
     * timestamp), so that even then the answer is a 400, never a database error.
     */
    static Position decode(byte[] payload, Sort sort) {
        JsonNode node;
        try {
            node = RecordValues.parseStored(new String(payload, StandardCharsets.UTF_8));
        } catch (IllegalStateException e) {
            throw CursorSigner.invalid();
        }
        if (node == null || !node.isObject() || !node.path("s").isTextual() || !node.has("k") || !node.path("i").isTextual()) {
            throw CursorSigner.invalid();
        }
        if (!node.get("s").textValue().equals(sort.wire())) {
            throw invalidCursor("the cursor belongs to a listing sorted by '" + RecordValues.shorten(node.get("s").textValue())
                    + "'; keep the same sort while paging");
        }
        try {
            UUID id = UUID.fromString(node.get("i").textValue());
            JsonNode key = node.get("k");
            Object parameter = switch (sort.key()) {
                case CREATED_AT, UPDATED_AT -> {
                    Instant instant = key.isTextual() ? Instant.parse(key.textValue()) : null;
                    if (instant == null || instant.isBefore(EARLIEST) || instant.isAfter(LATEST)) {
                        throw CursorSigner.invalid();
                    }
                    yield Timestamp.from(instant);
                }
                case FIELD -> {
                    ObjectNode wrapper = JsonNodeFactory.instance.objectNode();
                    wrapper.set("k", key);
                    RecordValues.checkStorable(wrapper);
                    yield RecordValues.write(key);
                }
                case TIMESTAMP_FIELD -> {
                    if (key.isTextual() && !FieldType.isTimestamp(key.textValue())) {
                        throw CursorSigner.invalid();
                    }
                    yield key.isTextual() ? key.textValue() : null;
                }
            };
            return new Position(parameter, id);
        } catch (IllegalArgumentException | DateTimeParseException e) {
            throw CursorSigner.invalid();
        }
    }

    private static BadRequest invalidCursor(String detail) {
        return new BadRequest("invalid-cursor", detail);
    }
}
