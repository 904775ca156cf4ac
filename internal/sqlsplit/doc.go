// Package sqlsplit cuts the text of a SQL migration file into the
// statements tandem runs one at a time, and reads the `-- tandem:...`
// annotations at the top of the file.
//
// It knows the lexical rules of each dialect well enough to find the ';'
// that really ends a statement: strings and their escapes, quoted
// identifiers, PostgreSQL dollar quotes and nested block comments, MySQL
// '#' comments and the mysql client's DELIMITER lines, SQLite trigger
// bodies and PostgreSQL BEGIN ATOMIC bodies. It does not parse SQL, and it
// reads nothing but the text it is given.
//
//	src := "-- tandem:no-transaction\n" +
//		"CREATE INDEX CONCURRENTLY users_email_idx ON users (email);\n" +
//		"COMMENT ON INDEX users_email_idx IS 'see ; below';\n"
//	stmts, opts, err := sqlsplit.Split(sqlsplit.Postgres, src)
//	if err != nil {
//		return err // a *sqlsplit.SyntaxError names the line of what is unterminated
//	}
//	fmt.Println(opts.NoTransaction) // true
//	for _, st := range stmts {
//		fmt.Println(st.Line, st.SQL) // 2 CREATE INDEX ..., then 3 COMMENT ON INDEX ...
//	}
//
// Known limits: MySQL strings are read as if NO_BACKSLASH_ESCAPES is off,
// PostgreSQL strings as if standard_conforming_strings is on (the defaults);
// MySQL /*! ... */ version comments are read as comments; the mysql client's
// backslash commands (\g, \G, \d) are not recognised.
package sqlsplit
