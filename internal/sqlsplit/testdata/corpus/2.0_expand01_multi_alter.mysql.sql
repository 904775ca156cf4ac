-- MySQL commits DDL implicitly: each ALTER below is applied on its own.
ALTER TABLE `users`
  ADD COLUMN `given_name`  VARCHAR(100) NULL AFTER `name`,
  ADD COLUMN `family_name` VARCHAR(100) NULL AFTER `given_name`,
  ADD INDEX `users_family_name` (`family_name`),
  ALGORITHM=INPLACE, LOCK=NONE;

ALTER TABLE `orders`
  ADD COLUMN `note` TEXT NULL,
  MODIFY COLUMN `status` VARCHAR(40) NOT NULL DEFAULT 'new';

# A comment with a ; in it, then a statement on the same line as another.
ALTER TABLE `orders` ADD INDEX `orders_status` (`status`); ANALYZE TABLE `orders`;
