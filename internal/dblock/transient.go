package dblock

import (
	"errors"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// IsTransient reports the errors a service retries: deadlocks (PostgreSQL
// 40P01, MySQL 1213), serialization failures (40001), lock timeouts, and
// SQLite's busy database. tandem's backfill and contract take row and table
// locks while the service writes, so its writers meet them.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001" || pe.Code == "55P03") {
		return true
	}
	return IsLockTimeout(err) || strings.Contains(err.Error(), "database is locked")
}
