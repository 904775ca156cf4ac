package migrations_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/migrations"
)

const failingFile = "1.0_expand02_three_steps.sql"

// threeSteps is a migration whose second statement fails until it is fixed.
// Its first statement cannot run twice.
func threeSteps(second string) files {
	return files{
		"1.0_expand01_base.sql": "CREATE TABLE base (id INT PRIMARY KEY);\n",
		failingFile: "CREATE TABLE step_one (id INT PRIMARY KEY);\n" +
			second +
			"CREATE TABLE step_three (id INT PRIMARY KEY);\n",
	}
}

const (
	badSecond   = "INSERT INTO no_such_table (id) VALUES (1);\n"
	fixedSecond = "INSERT INTO step_one (id) VALUES (1);\n"
)

func TestFailureInTheMiddle(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r := newRunner(t, db.Gorm, threeSteps(badSecond))

		rep, err := r.Expand(ctx, ver("1.0"))
		me := asError[*migrations.MigrationError](t, err)
		wantEqual(t, "failed migration", me.ID.String(), "1.0_expand02")
		wantEqual(t, "failed statement", me.Statement, 2)
		wantEqual(t, "failed line", me.Line, 2)
		wantEqual(t, "failed file", me.File, failingFile)
		wantEqual(t, "ExitCode", migrations.ExitCode(err), migrations.ExitError)
		if !errors.Is(err, migrations.ErrFailed) {
			t.Fatalf("%v does not match ErrFailed", err)
		}
		wantSlice(t, "applied before the failure", rep.Applied, []string{"1.0_expand01"})
		if !hasTable(t, db, "base") || hasTable(t, db, "step_three") {
			t.Fatalf("tables after the failure: %v", db.Tables(t))
		}

		row := history(t, db.Gorm)["1.0_expand02"]
		wantEqual(t, "history status", row.Status, "failed")
		wantEqual(t, "statements total", row.StatementsTotal, 3)
		if !strings.Contains(row.Error, "no_such_table") || !strings.Contains(row.Error, "statement 2") {
			t.Fatalf("history error = %q, want the database's error at statement 2", row.Error)
		}
		wantEqual(t, "state of 1.0", states(t, db.Gorm)["1.0"], "expanding")
		st, err := r.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.LastFailure == nil || st.LastFailure.ID != "1.0_expand02" {
			t.Fatalf("status shows last failure %+v, want 1.0_expand02", st.LastFailure)
		}

		if db.Dialect != dialect.MySQL {
			// Transactional DDL: nothing of the failed migration is left.
			wantEqual(t, "partial", me.Partial, false)
			wantEqual(t, "statements done", row.StatementsDone, 0)
			if hasTable(t, db, "step_one") {
				t.Fatal("the first statement of the failed migration was kept")
			}
			// Fixing the file is enough: nothing of it ran, so there is
			// nothing to repair, and the re-run starts from statement 1.
			r2 := newRunner(t, db.Gorm, threeSteps(fixedSecond))
			rep, err = r2.Expand(ctx, ver("1.0"))
			if err != nil {
				t.Fatalf("re-run after the fix: %v", err)
			}
		} else {
			// MySQL commits DDL at once: the first statement stays and the
			// history says so.
			wantEqual(t, "partial", me.Partial, true)
			wantEqual(t, "statements done", row.StatementsDone, 1)
			wantEqual(t, "status statements done", st.LastFailure.StatementsDone, 1)
			if !hasTable(t, db, "step_one") {
				t.Fatal("the first statement's table is missing on MySQL")
			}

			// The edited file is refused until repair accepts it.
			r2 := newRunner(t, db.Gorm, threeSteps(fixedSecond))
			_, err = r2.Expand(ctx, ver("1.0"))
			ce := asError[*migrations.ChecksumError](t, err)
			if len(ce.Changed) != 1 || ce.Changed[0].ID.String() != "1.0_expand02" {
				t.Fatalf("checksum error = %+v", ce.Changed)
			}
			changes, err := r2.Repair(ctx)
			if err != nil || len(changes) != 1 {
				t.Fatalf("repair = %+v, %v; want one change", changes, err)
			}
			plan, err := r2.Plan(ctx, ver("1.0"))
			if err != nil {
				t.Fatal(err)
			}
			if s := plan.Phases[0].Steps; len(s) != 1 || s[0].Resume != 1 || !s[0].Retry {
				t.Fatalf("planned expand = %+v, want 1.0_expand02 resuming after statement 1", s)
			}
			// The re-run resumes at statement 2: re-running statement 1,
			// a CREATE TABLE, would fail.
			rep, err = r2.Expand(ctx, ver("1.0"))
			if err != nil {
				t.Fatalf("resume after repair: %v", err)
			}
		}
		wantSlice(t, "applied by the re-run", rep.Applied, []string{"1.0_expand02"})
		row = history(t, db.Gorm)["1.0_expand02"]
		if row.Status != "applied" || row.StatementsDone != 3 || row.Error != "" {
			t.Fatalf("history after the re-run = %+v", row)
		}
		wantEqual(t, "rows inserted by statement 2", db.QueryInt(t, "SELECT COUNT(*) FROM step_one"), 1)
		if !hasTable(t, db, "step_three") {
			t.Fatal("statement 3 did not run")
		}
		wantEqual(t, "state of 1.0", states(t, db.Gorm)["1.0"], "expanded")
	})
}

// TestNoTransactionFile runs a PostgreSQL file that cannot run inside a
// transaction; a failure in it keeps what ran and resumes like MySQL.
func TestNoTransactionFile(t *testing.T) {
	db := dbtest.New(t, dialect.Postgres)
	ctx := t.Context()
	concurrently := func(second string) files {
		return files{
			"1.0_expand01_orders.sql": "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT);\n",
			"1.0_expand02_index.sql": "-- tandem:no-transaction\n" +
				"CREATE INDEX CONCURRENTLY orders_user_idx ON orders (user_id);\n" + second,
		}
	}
	_, err := newRunner(t, db.Gorm, concurrently(badSecond)).Expand(ctx, ver("1.0"))
	me := asError[*migrations.MigrationError](t, err)
	if me.Statement != 2 || !me.Partial {
		t.Fatalf("failure = %+v, want statement 2, partial", me)
	}
	wantEqual(t, "statements done", history(t, db.Gorm)["1.0_expand02"].StatementsDone, 1)
	wantEqual(t, "index built by statement 1", db.QueryInt(t, "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'orders_user_idx'"), 1)

	r := newRunner(t, db.Gorm, concurrently("INSERT INTO orders (id, user_id) VALUES (1, 1);\n"))
	if _, err := r.Repair(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Expand(ctx, ver("1.0"))
	if err != nil {
		t.Fatalf("resume: %v", err)
	}
	wantSlice(t, "applied", rep.Applied, []string{"1.0_expand02"})
	wantEqual(t, "orders", db.QueryInt(t, "SELECT COUNT(*) FROM orders"), 1)
}
