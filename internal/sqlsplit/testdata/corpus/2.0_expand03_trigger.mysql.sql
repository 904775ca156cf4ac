# Keep given_name filled while release 1.0 still writes only `name`.
DELIMITER $$

CREATE TRIGGER `users_bi_given_name`
BEFORE INSERT ON `users`
FOR EACH ROW
BEGIN
  IF NEW.`given_name` IS NULL THEN
    SET NEW.`given_name` = SUBSTRING_INDEX(NEW.`name`, ' ', 1);
  END IF;
END$$

CREATE TRIGGER `users_bu_given_name`
BEFORE UPDATE ON `users`
FOR EACH ROW
BEGIN
  IF NOT (NEW.`name` <=> OLD.`name`) THEN
    SET NEW.`given_name` = SUBSTRING_INDEX(NEW.`name`, ' ', 1);
  END IF;
END $$

delimiter ;
SELECT 'triggers created; 1.0 writers are covered' AS `status`;
