CREATE TABLE t (id int);

-- The closing tag is misspelt, so the body runs to the end of the file.
CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$
BEGIN
    RETURN 1;
END;
$bdoy$;

SELECT 1;
