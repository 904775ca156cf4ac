-- What release 2.0 deprecated.
ALTER TABLE customers DROP COLUMN name;
ALTER TABLE parcels DROP COLUMN weight_lb;
