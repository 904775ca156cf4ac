// Package backup backs a database up with its dialect's own tool before
// tandem changes it, and restores such a backup: pg_dump and pg_restore for
// PostgreSQL, mariadb-dump (or mysqldump) and the mariadb (or mysql) client
// for MySQL/MariaDB, VACUUM INTO and a file copy for SQLite.
//
// # Finding the tools
//
// Each tool is looked up in PATH, or taken from an environment variable
// holding its path (or a name to look up in PATH):
//
//	TANDEM_PG_DUMP      pg_dump                      (Backup, PostgreSQL)
//	TANDEM_PG_RESTORE   pg_restore                   (Restore, PostgreSQL)
//	TANDEM_MYSQLDUMP    mariadb-dump, then mysqldump (Backup, MySQL/MariaDB)
//	TANDEM_MYSQL        mariadb, then mysql          (Restore, MySQL/MariaDB)
//
// A tool that cannot be found gives a *ToolMissingError, matched by
// errors.Is(err, ErrToolMissing), which says what to install.
//
// # Passwords
//
// A password never appears on a tool's command line, where any local user
// could read it: PostgreSQL tools get it in PGPASSWORD, MySQL tools in an
// option file readable by the current user only, removed after the run.
// A tool's stderr is scrubbed of it before it reaches an error.
//
// # Connection parameters
//
// The PostgreSQL tools get the connection string without the password and
// without the parameters libpq does not know (pgx pool settings, runtime
// parameters such as search_path), which do not change what a dump holds.
// A connection string with sslpassword is refused rather than put on the
// command line. The MySQL tools get host, port (or socket), user and TLS
// options from the go-sql-driver DSN; without tls= in the DSN TLS is off,
// as it is for the Go driver.
//
// Example:
//
//	t, _ := dialect.ParseDSN("postgres://app:s3cret@db:5432/shop")
//	res, err := backup.Backup(ctx, nil, t, "shop-before-2.0.dump")
//	if errors.Is(err, backup.ErrToolMissing) {
//		log.Fatal(err) // pg_dump not found in PATH; install postgresql-client ...
//	}
//	fmt.Println(res.File, res.Bytes, res.Tool)
package backup
