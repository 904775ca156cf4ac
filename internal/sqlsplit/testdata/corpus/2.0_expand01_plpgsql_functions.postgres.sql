-- 2.0 splits users.name into given_name and family_name.
ALTER TABLE users ADD COLUMN given_name text, ADD COLUMN family_name text;

-- Helpers used by the 2.0 converters and by the backfill.

CREATE OR REPLACE FUNCTION given_name_of(full_name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    IF full_name IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN split_part(full_name, ' ', 1);
END;
$$;

CREATE OR REPLACE FUNCTION family_name_of(full_name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
    pos int := position(' ' in full_name);
BEGIN
    -- The text below looks like a dollar quote, but this body is tagged fn.
    RAISE DEBUG 'splitting %; price tags like $$5 are kept', full_name;
    IF pos = 0 THEN
        RETURN '';
    END IF;
    RETURN substr(full_name, pos + 1);
END;
$fn$;

CREATE OR REPLACE FUNCTION stale_rows(tbl regclass, release bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    n bigint;
BEGIN
    EXECUTE format($q$SELECT count(*) FROM %s WHERE obj_version < $1;$q$, tbl)
        INTO n USING release;
    RETURN n;
END;
$fn$;
