-- The whole schema of release 1.0, for a fresh install.
CREATE TABLE customers (
    id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(200) NOT NULL DEFAULT '',
    email       VARCHAR(200) NOT NULL DEFAULT '',
    obj_version BIGINT NOT NULL DEFAULT 0,
    INDEX idx_customers_obj_version (obj_version)
);
CREATE TABLE parcels (
    id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    customer_id BIGINT UNSIGNED NOT NULL,
    weight_lb   INT NOT NULL DEFAULT 0,
    obj_version BIGINT NOT NULL DEFAULT 0,
    INDEX idx_parcels_obj_version (obj_version)
);
