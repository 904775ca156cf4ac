package dblock

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/glebarez/go-sqlite"
	mysqldrv "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// MySQL and SQLite error codes IsLockTimeout recognises.
const (
	mysqlLockWaitTimeout = 1205 // ER_LOCK_WAIT_TIMEOUT; MariaDB's NOWAIT too
	mysqlLockNowait      = 3572 // ER_LOCK_NOWAIT, MySQL 8's NOWAIT
	sqliteBusy           = 5    // SQLITE_BUSY; extended codes keep it in the low byte
	pgLockNotAvailable   = "55P03"
)

// IsLockTimeout reports whether err, or an error it wraps, says a lock could
// not be taken in time: PostgreSQL lock_not_available (SQLSTATE 55P03, from
// lock_timeout or NOWAIT), MySQL/MariaDB ER_LOCK_WAIT_TIMEOUT (1205, also
// MariaDB's answer to NOWAIT) or ER_LOCK_NOWAIT (3572, MySQL 8's), or SQLite
// SQLITE_BUSY and its extended codes.
func IsLockTimeout(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == pgLockNotAvailable
	}
	var myErr *mysqldrv.MySQLError
	if errors.As(err, &myErr) {
		return myErr.Number == mysqlLockWaitTimeout || myErr.Number == mysqlLockNowait
	}
	return isSQLiteBusy(err)
}

// isSQLiteBusy reports whether err is SQLITE_BUSY or one of its extended
// codes.
func isSQLiteBusy(err error) bool {
	var liteErr *sqlite.Error
	return errors.As(err, &liteErr) && liteErr.Code()&0xff == sqliteBusy
}

// Blocker is a session that held a lock a DDL statement waited for.
type Blocker struct {
	// PID is the PostgreSQL backend pid or the MySQL connection id.
	PID int64
	// State is what the session was doing, e.g. "idle in transaction".
	State string
	// Query is its current or last statement.
	Query string
	// Since is when its transaction began (zero when unknown).
	Since time.Time
}

// String describes b in one line, e.g.
// "pid 1234 (idle in transaction): SELECT * FROM orders".
func (b Blocker) String() string {
	var details []string
	if b.State != "" {
		details = append(details, b.State)
	}
	return describeSession("pid", b.PID, details, b.Query)
}

// DDLBlockedError reports a statement that kept failing to take its lock
// until RetryDDL gave up. It wraps the last lock-timeout error.
type DDLBlockedError struct {
	// Attempts is how many times the statement ran.
	Attempts int
	// Blockers are the sessions found holding the locks it waited for,
	// where the database shows them; empty when none could be found.
	Blockers []Blocker
	// Err is the error of the last attempt.
	Err error
}

// Error implements error.
func (e *DDLBlockedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "DDL could not take its lock after %d attempts: ", e.Attempts)
	if len(e.Blockers) == 0 {
		fmt.Fprintf(&b, "%v; hint: look for long transactions on the table "+
			"(pg_stat_activity on PostgreSQL, information_schema.innodb_trx on MySQL) and end them, "+
			"or raise --lock-timeout", e.Err)
		return b.String()
	}
	b.WriteString("blocked by ")
	for i, bl := range e.Blockers {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(bl.String())
	}
	if len(e.Blockers) == 1 {
		b.WriteString("; hint: end that transaction or raise --lock-timeout")
	} else {
		b.WriteString("; hint: end those transactions or raise --lock-timeout")
	}
	return b.String()
}

// Unwrap returns the error of the last attempt.
func (e *DDLBlockedError) Unwrap() error {
	return e.Err
}
