CREATE TABLE `import;2024` (
  `row;id`  INT NOT NULL PRIMARY KEY,
  `say ``hi``;` VARCHAR(50),
  `note`    VARCHAR(200)
);

# Both escapes work in MySQL strings: \' and ''.
INSERT INTO `import;2024` VALUES
  (1, 'it\'s; escaped', "double \"quoted\"; too"),
  (2, 'it''s; doubled', 'back\\slash'),
  (3, '# not a comment', '-- not a comment either');

-- "--" starts a comment only when whitespace follows it:
UPDATE `import;2024` SET `row;id` = `row;id`--10
 WHERE `note` LIKE '%;%'; # so the line above subtracts minus ten

/* Block comments do not nest here: /* this opener is just text */
SELECT COUNT(*) FROM `import;2024`;
