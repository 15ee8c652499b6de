-- Declared timestamp fields sort and filter as instants, not as text: '2026-01-31T13:00:00+01:00' is the same
-- instant as '2026-01-31T12:00:00Z', and '...:00Z' comes before '...:00.5Z'. Silo accepts only RFC 3339
-- timestamps with an offset of at most 15:59 (FieldType.isTimestamp), so the cast never depends on the session's
-- TimeZone and never fails; any other value (stored by an older release, whose check was looser) maps to null
-- instead of failing every listing of its collection.
CREATE FUNCTION silo_timestamp(value text) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
        SELECT CASE
            WHEN value ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-](0[0-9]|1[0-5]):[0-5][0-9])$'
                 AND substr(value, 1, 4) <> '0000'
            THEN value::timestamptz
        END
    $$;
