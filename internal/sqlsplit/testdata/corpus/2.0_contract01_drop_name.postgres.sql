-- tandem:lock-timeout 2s
-- The coverage check is made by the database itself: the constraint is
-- added NOT VALID, then validated, in the same step as the drop.
ALTER TABLE users
    ADD CONSTRAINT users_at_2_0 CHECK (obj_version >= 2000000) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT users_at_2_0;
ALTER TABLE users DROP COLUMN name;
ALTER TABLE users DROP CONSTRAINT users_at_2_0
