-- Declared timestamp fields sort and filter as instants, not as text: '2026-01-31T13:00:00+01:00' is the same
-- instant as '2026-01-31T12:00:00Z', and '...:00Z' comes before '...:00.5Z'. Silo accepts only RFC 3339
-- timestamps with an offset (FieldType.isTimestamp), so the cast never depends on the session's TimeZone; any
-- other value (stored before the field was declared a timestamp) maps to null instead of failing the query.
CREATE FUNCTION silo_timestamp(value text) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT CASE
            WHEN value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})$'
                 AND substr(value, 1, 4) <> '0000'
            THEN value::timestamptz
        END
    $$;
