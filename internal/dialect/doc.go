// Package dialect names the SQL dialects tandem supports (PostgreSQL,
// MySQL/MariaDB and SQLite), turns the connection strings operators write into
// the DSNs the GORM drivers take, hides passwords in everything it prints, and
// opens a *gorm.DB with the settings tandem relies on.
//
// Connection strings are parsed once, by ParseDSN, into a Target; every
// error on the way, and Target's String method, show the string with its
// password replaced by "xxxxx".
//
// Example:
//
//	t, err := dialect.ParseDSN("mysql://app:s3cret@db:3306/shop")
//	if err != nil {
//		return err // a *dialect.DSNError, without the password
//	}
//	fmt.Println(t.Dialect, t) // mysql app:xxxxx@tcp(db:3306)/shop?parseTime=true&multiStatements=false
//
//	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
//	defer cancel()
//	db, err := dialect.Open(ctx, t, &gorm.Config{})
//	if err != nil {
//		return err // a *dialect.OpenError with a hint
//	}
//	table := dialect.QuoteIdent(dialect.Of(db), "orders")
package dialect
