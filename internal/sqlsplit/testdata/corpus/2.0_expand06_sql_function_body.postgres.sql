-- A SQL-standard function body: the ';' between BEGIN ATOMIC and END
-- belong to the function.
CREATE OR REPLACE FUNCTION order_label(o orders) RETURNS text
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT CASE o.status
               WHEN 'new' THEN 'open; waiting'
               ELSE o.status
           END;
END;

CREATE PROCEDURE close_order(id bigint)
LANGUAGE sql
BEGIN ATOMIC
    UPDATE orders SET status = 'done' WHERE orders.id = close_order.id;
    INSERT INTO user_audit (user_id, old_email, new_email)
        SELECT user_id, NULL, NULL FROM orders WHERE orders.id = close_order.id;
END;
