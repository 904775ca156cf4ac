-- Backfill in batches; a DO block is one statement.
DO $$
DECLARE
    moved int;
BEGIN
    LOOP
        UPDATE users
           SET given_name  = given_name_of(name),
               family_name = family_name_of(name),
               obj_version = 2000000
         WHERE id IN (SELECT id FROM users WHERE obj_version < 2000000 LIMIT 500);
        GET DIAGNOSTICS moved = ROW_COUNT;
        RAISE NOTICE 'moved % rows; continuing', moved;
        EXIT WHEN moved = 0;
    END LOOP;
END
$$ LANGUAGE plpgsql;

DO LANGUAGE plpgsql $do$
BEGIN
    PERFORM 1 FROM users WHERE given_name IS NULL;
    IF FOUND THEN
        RAISE EXCEPTION 'backfill incomplete; rerun tandem migrate';
    END IF;
END
$do$;
