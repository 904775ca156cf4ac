-- The procedure body holds ';', so the mysql client's DELIMITER command
-- switches the statement delimiter while it is defined.
DROP PROCEDURE IF EXISTS `backfill_given_name`;

DELIMITER //
CREATE PROCEDURE `backfill_given_name`(IN batch INT)
BEGIN
  DECLARE moved INT DEFAULT 1;
  -- strings with ';' and the delimiter itself stay inside the body
  SET @why = 'split name; see 2.0 // notes';
  WHILE moved > 0 DO
    UPDATE `users`
       SET `given_name`  = SUBSTRING_INDEX(`name`, ' ', 1),
           `family_name` = TRIM(SUBSTRING(`name`, LENGTH(SUBSTRING_INDEX(`name`, ' ', 1)) + 1)),
           `obj_version` = 2000000
     WHERE `obj_version` < 2000000
     LIMIT batch;
    SET moved = ROW_COUNT();
  END WHILE;
END//

CREATE FUNCTION `given_name_of`(full_name VARCHAR(200)) RETURNS VARCHAR(100)
DETERMINISTIC
BEGIN
  RETURN SUBSTRING_INDEX(full_name, ' ', 1);
END //
DELIMITER ;

CALL `backfill_given_name`(500);
