# Baseline schema of release 1.0 for MySQL and MariaDB.
# Identifiers are quoted with backticks; strings use single quotes.

CREATE TABLE `users` (
  `id`          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `name`        VARCHAR(200) NOT NULL COMMENT 'given family; split in 2.0',
  `email`       VARCHAR(320) NOT NULL,
  `obj_version` BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`),
  UNIQUE KEY `users_email` (`email`),
  KEY `users_obj_version` (`obj_version`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE `orders` (
  `id`          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `user_id`     BIGINT UNSIGNED NOT NULL,
  `total_cents` BIGINT NOT NULL,
  `status`      VARCHAR(20) NOT NULL DEFAULT 'new',
  `obj_version` BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (`id`),
  CONSTRAINT `orders_user` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4; -- one row per checkout
