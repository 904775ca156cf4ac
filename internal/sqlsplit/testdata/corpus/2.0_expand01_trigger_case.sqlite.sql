ALTER TABLE users ADD COLUMN given_name TEXT;
ALTER TABLE users ADD COLUMN family_name TEXT;

-- Release 1.0 writes only name; this trigger keeps the 2.0 columns filled.
-- Its body holds ';' and a CASE ... END, which must not end the statement.
CREATE TRIGGER users_ai_split_name
AFTER INSERT ON users
FOR EACH ROW
WHEN NEW.given_name IS NULL
BEGIN
    UPDATE users
       SET given_name = CASE
               WHEN instr(NEW.name, ' ') = 0 THEN NEW.name
               ELSE substr(NEW.name, 1, instr(NEW.name, ' ') - 1)
           END,
           family_name = CASE instr(NEW.name, ' ')
               WHEN 0 THEN ''
               ELSE substr(NEW.name, instr(NEW.name, ' ') + 1)
           END
     WHERE id = NEW.id;
    SELECT RAISE(ABORT, 'name must not be empty; see 2.0 notes')
     WHERE NEW.name = '';
END;

CREATE TEMP TRIGGER IF NOT EXISTS users_bu_guard
BEFORE UPDATE OF email ON users
WHEN CASE WHEN NEW.email LIKE '%@%' THEN 0 ELSE 1 END
BEGIN
    SELECT RAISE(ABORT, 'invalid email; update refused');
END;

INSERT INTO users (name, email) VALUES ('Grace Hopper', 'grace@example.com');
