-- The whole schema of release 1.0, for a fresh install.
CREATE TABLE customers (
    id          BIGSERIAL PRIMARY KEY,
    name        VARCHAR(200) NOT NULL DEFAULT '',
    email       VARCHAR(200) NOT NULL DEFAULT '',
    obj_version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX idx_customers_obj_version ON customers (obj_version);
CREATE TABLE parcels (
    id          BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    weight_lb   INTEGER NOT NULL DEFAULT 0,
    obj_version BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX idx_parcels_obj_version ON parcels (obj_version);
