-- SQLite cannot drop a column that an index or trigger uses, so the 2.0
-- contract rebuilds the table: create, copy, drop, rename, re-index.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE users_new (
    id          INTEGER PRIMARY KEY,
    given_name  TEXT NOT NULL,
    family_name TEXT NOT NULL DEFAULT '',
    email       TEXT NOT NULL UNIQUE,
    obj_version INTEGER NOT NULL DEFAULT 0 CHECK (obj_version >= 2000000)
);

INSERT INTO users_new (id, given_name, family_name, email, obj_version)
SELECT id, coalesce(given_name, name), coalesce(family_name, ''), email, 2000000
  FROM users;

DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE INDEX users_obj_version ON users (obj_version);

CREATE TRIGGER users_au_stamp AFTER UPDATE ON users
WHEN NEW.obj_version < 2000000
BEGIN
    UPDATE users SET obj_version = 2000000 WHERE id = NEW.id;
END;

PRAGMA foreign_key_check;
