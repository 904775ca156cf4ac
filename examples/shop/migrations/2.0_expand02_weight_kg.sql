-- Release 2.0 weighs parcels in kilograms.
ALTER TABLE parcels ADD COLUMN weight_kg DOUBLE PRECISION;
