-- Baseline schema of release 1.0 for SQLite, the embedded default.
PRAGMA foreign_keys = ON;

CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,   -- "given family"; split in 2.0
    email       TEXT NOT NULL UNIQUE,
    obj_version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX users_obj_version ON users (obj_version);

/* SQLite accepts three identifier quotes: "..", `..` and [..]. */
CREATE TABLE [order;lines] (
    [id]          INTEGER PRIMARY KEY,
    `user;id`     INTEGER NOT NULL REFERENCES users (id),
    "total;cents" INTEGER NOT NULL CHECK ("total;cents" >= 0),
    status        TEXT NOT NULL DEFAULT 'new; unpaid',
    obj_version   INTEGER NOT NULL DEFAULT 0
);

-- Transaction control statements are ordinary statements.
BEGIN;
INSERT INTO users (name, email) VALUES ('Ada Lovelace', 'ada@example.com');
END;
