package migrations

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dblock"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/sqlsplit"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
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

// knownAnnotations are the `-- tandem:` annotations a migration file may
// carry; any other is a mistake (a typo would otherwise run a backfill's SET
// list as SQL, or a no-transaction file inside a transaction).
var knownAnnotations = []string{backfillAnnotation, sqlsplit.NoTransactionAnnotation}

// fileProblems checks the file of m that serves dialect d as the runner
// would run it: it splits into statements, carries only known annotations,
// and a `-- tandem:backfill` file is a migrate file that names its table and
// holds one SET list. It returns one reason per problem (none for a Go
// migration or a dialect no file serves).
func fileProblems(m *Migration, d dialect.Name) []string {
	f, ok := m.file(d)
	if m.Kind == KindGo || !ok {
		return nil
	}
	stmts, opts, err := sqlsplit.Split(sqlsplit.Dialect(d), f.content)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	keys := make([]string, 0, len(opts.Annotations))
	for k := range opts.Annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(knownAnnotations, k) {
			out = append(out, fmt.Sprintf("unknown annotation '-- tandem:%s' (known: %s)", k, strings.Join(knownAnnotations, ", ")))
		}
	}
	if table, ok := opts.Annotations[backfillAnnotation]; ok {
		switch {
		case m.ID.Phase != versions.PhaseMigrate:
			out = append(out, fmt.Sprintf("'-- tandem:backfill' belongs on a migrate file; in a %s file the SET list would run as a statement", m.ID.Phase))
		case strings.TrimSpace(table) == "" || len(stmts) != 1:
			out = append(out, "a backfill file names its table (-- tandem:backfill customers) and holds one SET list, e.g. given_name = name")
		}
	}
	return out
}

// preflight checks every file a phase run is about to apply before it
// applies any, so that a malformed file changes nothing: not the schema,
// not the history, not the journal. Its refusal is a *SourceError (exit
// code 1).
func (r *Runner) preflight(steps []Step) error {
	var problems []Problem
	for _, s := range steps {
		for _, reason := range fileProblems(s.Migration, r.dialect) {
			problems = append(problems, Problem{File: s.File, Reason: reason})
		}
	}
	if len(problems) > 0 {
		return &SourceError{Problems: problems, Hint: "fix the file and run again; nothing was applied ('tandem validate' checks every file for every dialect)"}
	}
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
		failed.RecordErr = rerr
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
	interrupted, err := r.interrupted(ctx, db, row.ID)
	if err != nil {
		return err
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
			me.RecordErr = rerr
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
		run := func(ctx context.Context) error { return execRaw(ctx, db, st.SQL) }
		recorded := false
		if r.dialect == dialect.MySQL && isDML(st.SQL) {
			// A DML statement (an INSERT of reference rows, say) and its
			// progress commit together, so that a resume after a runner
			// died between the two never runs it again; if the record
			// fails, the statement is rolled back with it. DDL commits by
			// itself on MySQL (resume.go deals with it), and SET or
			// transaction statements may not run inside a transaction, so
			// only DML is wrapped.
			recorded = true
			run = func(ctx context.Context) error {
				return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
					if err := execRaw(ctx, tx, st.SQL); err != nil {
						return err
					}
					return store.SetProgress(ctx, tx, row.ID, i+1)
				})
			}
		}
		err := dblock.RetryDDL(ctx, db, r.ddl, run)
		if err != nil && i == resume && interrupted && m.Kind != KindGo {
			// See resume.go.
			ran, jerr := r.tookEffect(ctx, db, m, i+1, err)
			if jerr != nil {
				return jerr
			}
			if ran {
				err = nil
			}
		}
		if err != nil {
			return fail(i, st.Line, err)
		}
		if recorded {
			continue
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

// isDML reports whether a statement changes rows (INSERT, UPDATE, DELETE,
// REPLACE), judged by its first word after comments.
func isDML(sql string) bool {
	for {
		sql = strings.TrimLeft(sql, " \t\r\n(")
		switch {
		case strings.HasPrefix(sql, "--") || strings.HasPrefix(sql, "#"):
			nl := strings.IndexByte(sql, '\n')
			if nl < 0 {
				return false
			}
			sql = sql[nl+1:]
			continue
		case strings.HasPrefix(sql, "/*"):
			end := strings.Index(sql, "*/")
			if end < 0 {
				return false
			}
			sql = sql[end+2:]
			continue
		}
		word := sql
		if i := strings.IndexFunc(sql, func(r rune) bool { return !unicode.IsLetter(r) }); i >= 0 {
			word = sql[:i]
		}
		switch strings.ToUpper(word) {
		case "INSERT", "UPDATE", "DELETE", "REPLACE":
			return true
		}
		return false
	}
}
