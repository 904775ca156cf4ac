package migrations

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dblock"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/sqlsplit"
	"github.com/tandemdb/tandem/internal/store"
)

// transactional reports whether a migration runs in one transaction on this
// dialect: PostgreSQL and SQLite roll DDL back, MySQL/MariaDB commit it at
// once. A file annotated `-- tandem:no-transaction` runs outside a
// transaction on PostgreSQL; SQLite has nothing that needs that, so there it
// still runs in one.
func (r *Runner) transactional(opts sqlsplit.Options) bool {
	switch r.dialect {
	case dialect.SQLite:
		return true
	case dialect.Postgres:
		return !opts.NoTransaction
	default:
		return false
	}
}

// apply runs one step on db (the runner's locked connection) and records it.
func (r *Runner) apply(ctx context.Context, db *gorm.DB, s Step) error {
	m := s.Migration
	stmts, opts, err := m.Statements(r.dialect)
	if err != nil {
		return &MigrationError{ID: m.ID, File: s.File, Err: err}
	}
	if _, _, isBackfill, err := r.sqlBackfill(m); err != nil {
		return &MigrationError{ID: m.ID, File: s.File, Err: err}
	} else if isBackfill {
		// Its SET list runs in the backfill that follows the migrate
		// steps, on every migrate, for the rows still stale.
		stmts = nil
	}
	row := &store.Migration{
		ID: m.ID.String(), Release: m.ID.Release.String(), ReleaseStamp: m.ID.Release.Stamp(),
		Phase: m.ID.Phase.String(), Seq: m.ID.Seq, Kind: string(m.Kind), Checksum: m.Checksum(r.dialect),
		Dialect: string(r.dialect), StartedAt: store.Now(), Actor: store.Actor(),
		Status: store.StatusRunning, StatementsTotal: len(stmts),
	}
	r.logf("%s: applying %s", m.ID, describe(s, len(stmts)))
	if r.transactional(opts) {
		err = r.applyInTx(ctx, db, m, stmts, row)
	} else {
		err = r.applyStepwise(ctx, db, m, stmts, row, s.Resume)
	}
	if err != nil {
		return err
	}
	r.logf("%s: applied in %s", m.ID, time.Duration(row.DurationMS)*time.Millisecond)
	return nil
}

func describe(s Step, n int) string {
	if s.Migration.Kind == KindGo {
		return "Go migration"
	}
	d := fmt.Sprintf("%s, %d statement(s)", s.File, n)
	if s.Resume > 0 {
		d += fmt.Sprintf(", resuming at statement %d", s.Resume+1)
	}
	return d
}

// applyInTx runs the whole migration and its history row in one
// transaction, retried as a whole when it times out waiting for a lock.
func (r *Runner) applyInTx(ctx context.Context, db *gorm.DB, m *Migration, stmts []sqlsplit.Statement, row *store.Migration) error {
	var failed *MigrationError
	err := dblock.RetryDDL(ctx, db, r.ddl, func(ctx context.Context) error {
		failed = nil
		return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if m.Kind == KindGo {
				if err := m.goFn(ctx, tx); err != nil {
					failed = &MigrationError{ID: m.ID, Err: err}
					return err
				}
			}
			for i, st := range stmts {
				if err := execRaw(ctx, tx, st.SQL); err != nil {
					failed = &MigrationError{ID: m.ID, File: m.File(r.dialect), Statement: i + 1, Line: st.Line, Err: err}
					return err
				}
			}
			finish(row, len(stmts), store.StatusApplied, "")
			return store.SaveMigration(ctx, tx, row)
		})
	})
	if err == nil {
		return nil
	}
	if failed == nil {
		failed = &MigrationError{ID: m.ID, File: m.File(r.dialect), Err: err}
	} else if err != failed.Err {
		failed.Err = err // a DDLBlockedError after retries, which names the blocker
	}
	finish(row, 0, store.StatusFailed, failed.Error())
	if rerr := store.SaveMigration(context.WithoutCancel(ctx), db, row); rerr != nil {
		return fmt.Errorf("%w (and recording the failure failed: %v)", failed, rerr)
	}
	return failed
}

// applyStepwise runs statement by statement outside a transaction, saving
// progress after each one so that a failed run resumes where it stopped.
func (r *Runner) applyStepwise(ctx context.Context, db *gorm.DB, m *Migration, stmts []sqlsplit.Statement, row *store.Migration, resume int) error {
	if resume > len(stmts) {
		return &MigrationError{ID: m.ID, File: m.File(r.dialect), Err: fmt.Errorf("the file now has %d statement(s) but %d already ran", len(stmts), resume),
			Partial: true, Statement: resume + 1}
	}
	row.StatementsDone = resume
	if err := store.SaveMigration(ctx, db, row); err != nil {
		return err
	}
	fail := func(i int, line int, err error) error {
		me := &MigrationError{ID: m.ID, File: m.File(r.dialect), Statement: i + 1, Line: line, Err: err, Partial: i > 0}
		if m.Kind == KindGo {
			me.Statement, me.Partial = 0, false
		}
		finish(row, i, store.StatusFailed, me.Error())
		if rerr := store.SaveMigration(context.WithoutCancel(ctx), db, row); rerr != nil {
			return fmt.Errorf("%w (and recording the failure failed: %v)", me, rerr)
		}
		return me
	}
	if m.Kind == KindGo {
		if err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return m.goFn(ctx, tx) }); err != nil {
			return fail(0, 0, err)
		}
	}
	for i := resume; i < len(stmts); i++ {
		st := stmts[i]
		err := dblock.RetryDDL(ctx, db, r.ddl, func(ctx context.Context) error { return execRaw(ctx, db, st.SQL) })
		if err != nil {
			return fail(i, st.Line, err)
		}
		if err := store.SetProgress(ctx, db, row.ID, i+1); err != nil {
			return err
		}
	}
	finish(row, len(stmts), store.StatusApplied, "")
	return store.SaveMigration(ctx, db, row)
}

func finish(row *store.Migration, done int, status, errText string) {
	now := store.Now()
	row.FinishedAt = &now
	row.DurationMS = now.Sub(row.StartedAt).Milliseconds()
	row.StatementsDone = done
	row.Status = status
	row.Error = errText
}

// execRaw sends one statement as written, with no placeholder processing.
func execRaw(ctx context.Context, db *gorm.DB, sql string) error {
	_, err := db.Statement.ConnPool.ExecContext(ctx, sql)
	return err
}
