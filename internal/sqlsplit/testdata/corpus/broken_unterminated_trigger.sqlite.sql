CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER);

-- The trigger's END was forgotten: everything after BEGIN is its body.
CREATE TRIGGER t_count AFTER INSERT ON t
BEGIN
    UPDATE t SET n = n + 1 WHERE id = NEW.id;

SELECT 1;
