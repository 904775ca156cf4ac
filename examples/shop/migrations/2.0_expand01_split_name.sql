-- Release 2.0 keeps the customer's name in two columns.
ALTER TABLE customers ADD COLUMN given_name VARCHAR(100);
ALTER TABLE customers ADD COLUMN family_name VARCHAR(100);
