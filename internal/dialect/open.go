package dialect

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/glebarez/sqlite"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	gormmysql "gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
)

// OpenError reports a database that could not be opened or reached. Its
// message names the target with the password hidden, strips any password
// from the driver's text, and carries a hint for the operator.
type OpenError struct {
	// Dialect is the dialect of the target.
	Dialect Name
	// Target is the redacted connection string; for SQLite, the file path.
	Target string
	// Err is the driver's error.
	Err error
	// Hint says what to check.
	Hint string

	secrets []string
}

// Error implements error.
func (e *OpenError) Error() string {
	return fmt.Sprintf("open %s database %s: %s; hint: %s", e.Dialect, e.Target, scrub(e.Err.Error(), e.secrets...), e.Hint)
}

// Unwrap returns the driver's error.
func (e *OpenError) Unwrap() error {
	return e.Err
}

func openError(t Target, err error) *OpenError {
	var hint string
	var secrets []string
	switch t.Dialect {
	case Postgres:
		hint = "is the PostgreSQL server running and reachable? check host, port, user, password and database name (pg_isready -h HOST -p PORT tells whether it accepts connections)"
		secrets = postgresSecrets(t.DSN)
	case MySQL:
		hint = "is the MySQL/MariaDB server running and reachable? check host, port, user, password and database name (mysqladmin -h HOST -P PORT ping tells whether it answers)"
		secrets = mysqlSecrets(t.DSN)
	case SQLite:
		hint = "check that the directory of the database file exists and is writable"
	}
	shown := t.String()
	if t.Dialect == SQLite {
		// The connection pragmas are ours, not the operator's: show the file.
		shown = t.Database()
	}
	return &OpenError{Dialect: t.Dialect, Target: shown, Err: err, Hint: hint, secrets: secrets}
}

// Open opens t with the GORM driver of its dialect and pings it with ctx, so
// a server that is down or a wrong password is reported here, within ctx's
// deadline, rather than at the first query.
//
// cfg may be nil; it is copied, and the copy has DisableAutomaticPing set
// because Open pings with ctx itself.
//
// Per dialect:
//   - PostgreSQL: pgx through gorm.io/driver/postgres.
//   - MySQL/MariaDB: the DSN must set parseTime=true (ParseDSN adds it):
//     tandem scans DATETIME and TIMESTAMP columns into time.Time. The pool is
//     pinged before GORM's dialector runs its version query, which does not
//     take a context.
//   - SQLite: the connection settings described at sqliteDefaults are added
//     to the DSN unless it sets them: busy_timeout 10s, foreign_keys on, WAL
//     journal for file databases, immediate transactions. They go in the DSN
//     because the pool opens new connections at will and each needs them.
//     An in-memory database exists once per connection, so its pool is held
//     to one connection that is never closed while the *gorm.DB is open; a
//     query issued while another one's rows are still being read waits for
//     them, so read rows to the end first. The driver's C allocator is
//     warmed (WarmSQLiteAllocator).
//
// Errors are *DSNError for a target Open cannot use and *OpenError for a
// database it cannot reach; neither contains the password.
func Open(ctx context.Context, t Target, cfg *gorm.Config) (*gorm.DB, error) {
	conf := gorm.Config{}
	if cfg != nil {
		conf = *cfg
	}
	conf.DisableAutomaticPing = true

	var (
		dialector gorm.Dialector
		pool      *sql.DB
	)
	switch t.Dialect {
	case Postgres:
		dialector = postgres.Open(t.DSN)
	case MySQL:
		mc, err := mysqlConfig(t)
		if err != nil {
			return nil, err
		}
		connector, err := mysql.NewConnector(mc)
		if err != nil {
			return nil, openError(t, err)
		}
		pool = sql.OpenDB(connector)
		dialector = gormmysql.New(gormmysql.Config{Conn: pool, DSN: t.DSN, DSNConfig: mc})
	case SQLite:
		d := splitSQLite(t.DSN).withDefaults()
		var err error
		pool, err = sql.Open(sqlite.DriverName, d.String())
		if err != nil {
			return nil, openError(t, err)
		}
		if d.memory() {
			pool.SetMaxOpenConns(1)
			pool.SetMaxIdleConns(1)
			pool.SetConnMaxLifetime(0)
			pool.SetConnMaxIdleTime(0)
		}
		dialector = &sqlite.Dialector{DriverName: sqlite.DriverName, Conn: pool}
	default:
		return nil, fmt.Errorf("open database %s: %w %q", t, ErrUnknownDialect, t.Dialect)
	}

	if pool != nil {
		if err := pool.PingContext(ctx); err != nil {
			_ = pool.Close()
			return nil, openError(t, err)
		}
	}
	db, err := gorm.Open(dialector, &conf)
	if err != nil {
		if pool != nil {
			_ = pool.Close()
		}
		return nil, openError(t, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, openError(t, err)
	}
	if pool == nil {
		if err := sqlDB.PingContext(ctx); err != nil {
			_ = sqlDB.Close()
			return nil, openError(t, err)
		}
	}
	WarmSQLiteAllocator(db)
	return db, nil
}

// OpenDSN parses dsn with ParseDSN and opens it with Open.
func OpenDSN(ctx context.Context, dsn string, cfg *gorm.Config) (*gorm.DB, error) {
	t, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return Open(ctx, t, cfg)
}

// ConnectionLost reports whether err says that the connection to the
// database went away under a statement: the server shut down or restarted,
// the session was killed (pg_terminate_backend, KILL), or the network
// dropped it. Nothing uncommitted on that connection was kept, and the
// statement is not at fault.
func ConnectionLost(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P: operator intervention
		// (admin or crash shutdown, cannot connect now, database dropped).
		return strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P")
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		// ER_CONNECTION_KILLED, ER_SERVER_SHUTDOWN, CR_SERVER_GONE_ERROR, CR_SERVER_LOST.
		return me.Number == 1927 || me.Number == 1053 || me.Number == 2006 || me.Number == 2013
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false // the caller gave up, the connection did not go
	}
	var oe *net.OpError
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, mysql.ErrInvalidConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &oe)
}
