-- tandem:no-transaction
-- tandem:lock-timeout 5s
--
-- CREATE INDEX CONCURRENTLY cannot run inside a transaction block.

CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_user_id_idx
    ON orders (user_id);

CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_open_idx
    ON orders (user_id, id)
    WHERE status <> 'done';
