/*
 * Baseline schema of release 1.0.
 * /* Block comments nest in PostgreSQL; this one holds a ';' and a quote ' */
 * and only ends here:
 */
CREATE TABLE users (
    id          bigserial PRIMARY KEY,
    name        text NOT NULL,         -- "given family"; split in 2.0
    email       text NOT NULL UNIQUE,
    obj_version bigint NOT NULL DEFAULT 0
);

CREATE INDEX users_obj_version_idx ON users (obj_version);

CREATE TABLE orders (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id),
    total_cents bigint NOT NULL CHECK (total_cents >= 0),
    status      text NOT NULL DEFAULT 'new',
    note        text,
    obj_version bigint NOT NULL DEFAULT 0
);

COMMENT ON TABLE orders IS 'One row per checkout; never deleted.';
