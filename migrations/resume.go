package migrations

import (
	"context"
	"errors"
	"fmt"

	mysqldrv "github.com/go-sql-driver/mysql"
	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
)

// Resuming a migration whose runner died.
//
// On MySQL/MariaDB a migration runs statement by statement, each DDL
// statement committing by itself, and its progress is recorded after each
// one. A runner that dies (killed, its host lost) between a statement's
// commit and the record leaves the history row "running" with the
// statement counted as not done, and the server finishes a statement even
// when the client that sent it is gone. The next run resumes at that
// statement, which then fails because it already took effect: "Duplicate
// column name", "Table already exists", "Can't DROP ...". Such an error on
// the first statement of a resumed, interrupted migration means the
// statement ran: the runner counts it as done, says so in the log and the
// journal, and goes on. A migration that failed (status "failed") is not
// given this benefit: its failing statement is known not to have run.
//
// PostgreSQL runs a no-transaction file the same way, but its interrupted
// statement (CREATE INDEX CONCURRENTLY) can leave a half-built, invalid
// object behind, so there the error stays.

// mysqlAlreadyDone are the MySQL/MariaDB errors of a DDL statement re-run
// after it took effect.
var mysqlAlreadyDone = map[uint16]string{
	1050: "ER_TABLE_EXISTS_ERROR",
	1051: "ER_BAD_TABLE_ERROR",
	1060: "ER_DUP_FIELDNAME",
	1061: "ER_DUP_KEYNAME",
	1091: "ER_CANT_DROP_FIELD_OR_KEY",
	1304: "ER_SP_ALREADY_EXISTS",
	1305: "ER_SP_DOES_NOT_EXIST",
	1359: "ER_TRG_ALREADY_EXISTS",
	1360: "ER_TRG_DOES_NOT_EXIST",
	1537: "ER_EVT_ALREADY_EXISTS",
}

// interrupted reports whether the last runner of migration id died while
// running it (its history row is still "running"), on a dialect where its
// statements commit one by one.
func (r *Runner) interrupted(ctx context.Context, db *gorm.DB, id string) (bool, error) {
	if r.dialect != dialect.MySQL {
		return false, nil
	}
	var status []string
	if err := db.WithContext(ctx).Model(&store.Migration{}).Where("id = ?", id).Pluck("status", &status).Error; err != nil {
		return false, fmt.Errorf("migrations: read the status of %s: %w", id, err)
	}
	return len(status) == 1 && status[0] == store.StatusRunning, nil
}

// tookEffect decides whether err, from re-running the statement an
// interrupted runner was running, says that statement already ran. If so
// it logs and journals that the statement counts as done.
func (r *Runner) tookEffect(ctx context.Context, db *gorm.DB, m *Migration, stmt int, err error) (bool, error) {
	var myErr *mysqldrv.MySQLError
	if !errors.As(err, &myErr) {
		return false, nil
	}
	code, ok := mysqlAlreadyDone[myErr.Number]
	if !ok {
		return false, nil
	}
	detail := fmt.Sprintf("%s statement %d had taken effect before the previous runner stopped (re-running it: %s %d: %s); counted as done",
		m.ID, stmt, code, myErr.Number, myErr.Message)
	r.logf("%s", detail)
	if jerr := store.Journal(ctx, db, "resume", m.ID.Release, detail); jerr != nil {
		return false, jerr
	}
	return true, nil
}
