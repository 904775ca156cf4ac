CREATE TABLE user_audit (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    old_email  text,
    new_email  text
);

CREATE FUNCTION log_email_change() RETURNS trigger
LANGUAGE plpgsql AS $body$
BEGIN
    IF NEW.email IS DISTINCT FROM OLD.email THEN
        INSERT INTO user_audit (user_id, old_email, new_email)
        VALUES (OLD.id, OLD.email, NEW.email);
    END IF;
    RETURN NEW;
END;
$body$;

CREATE TRIGGER users_email_audit
    AFTER UPDATE OF email ON users
    FOR EACH ROW
    WHEN (OLD.email IS DISTINCT FROM NEW.email)
    EXECUTE FUNCTION log_email_change();
