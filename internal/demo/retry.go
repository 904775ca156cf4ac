package demo

import (
	"errors"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tandemdb/tandem/internal/dblock"
)

// retryable reports errors a service retries: deadlocks, serialization
// failures and lock timeouts (the backfill and the contract take row and
// table locks while the writers run).
func retryable(err error) bool {
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
	return dblock.IsLockTimeout(err) || strings.Contains(err.Error(), "database is locked")
}

// retry runs fn again after a retryable error, a few times.
func retry(fn func() error) error {
	var err error
	for i := 0; i < 8; i++ {
		if err = fn(); !retryable(err) {
			return err
		}
		time.Sleep(time.Duration(10*(i+1)) * time.Millisecond)
	}
	return err
}
