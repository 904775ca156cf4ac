package migrations_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dblock"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

var alterAccounts = files{
	"1.0_expand01_add_note.sql": "ALTER TABLE accounts ADD COLUMN note TEXT;\n",
}

var ddlOptions = dblock.DDLOptions{LockTimeout: 100 * time.Millisecond, Retries: 3, Backoff: 50 * time.Millisecond}

// holdTable opens a transaction on another connection that reads accounts,
// so it holds a lock that ALTER TABLE must wait for, and returns that
// connection and its backend pid.
func holdTable(t *testing.T, db *dbtest.DB) (*gorm.DB, int64) {
	t.Helper()
	db.Exec(t, "CREATE TABLE accounts (id INT PRIMARY KEY)")
	holder := bind(t, db.Open(t))
	var pid int64
	if err := holder.Raw("SELECT pg_backend_pid()").Scan(&pid).Error; err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"BEGIN", "SELECT COUNT(*) FROM accounts"} {
		if err := holder.Exec(q).Error; err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { _ = holder.Exec("ROLLBACK").Error })
	return holder, pid
}

func TestDDLLockTimeoutRetry(t *testing.T) {
	db := dbtest.New(t, dialect.Postgres)
	ctx := t.Context()
	holder, pid := holdTable(t, db)

	// The holder ends its transaction when the first retry is announced, so
	// a later attempt gets the lock.
	logs := &logRecorder{}
	logs.on("timed out waiting for its lock", func() {
		if err := holder.Exec("COMMIT").Error; err != nil {
			t.Errorf("release the holder: %v", err)
		}
	})
	r := newRunner(t, db.Gorm, alterAccounts, migrations.WithDDL(ddlOptions), migrations.WithLogf(logs.logf))
	rep, err := r.Expand(ctx, versions.Version{})
	if err != nil {
		t.Fatalf("expand: %v\nlog:\n%s", err, logs.all())
	}
	wantSlice(t, "applied", rep.Applied, []string{"1.0_expand01"})
	wantColumns(t, db, "accounts", "id", "note")
	if !strings.Contains(logs.all(), fmt.Sprintf("blocked by pid %d", pid)) {
		t.Fatalf("the retry line does not name the holder, pid %d:\n%s", pid, logs.all())
	}
	wantEqual(t, "history status", history(t, db.Gorm)["1.0_expand01"].Status, "applied")
}

func TestDDLLockTimeoutGivesUp(t *testing.T) {
	db := dbtest.New(t, dialect.Postgres)
	ctx := t.Context()
	_, pid := holdTable(t, db)

	logs := &logRecorder{}
	r := newRunner(t, db.Gorm, alterAccounts, migrations.WithDDL(ddlOptions), migrations.WithLogf(logs.logf))
	_, err := r.Expand(ctx, versions.Version{})
	be := asError[*dblock.DDLBlockedError](t, err)
	wantEqual(t, "attempts", be.Attempts, ddlOptions.Retries+1)
	named := false
	for _, b := range be.Blockers {
		named = named || b.PID == pid
	}
	if !named {
		t.Fatalf("blockers %+v do not name the holder, pid %d", be.Blockers, pid)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", pid)) {
		t.Fatalf("error does not name pid %d: %v", pid, err)
	}
	me := asError[*migrations.MigrationError](t, err)
	wantEqual(t, "failed migration", me.ID.String(), "1.0_expand01")
	wantEqual(t, "ExitCode", migrations.ExitCode(err), migrations.ExitBlocked)
	wantEqual(t, "retries logged", strings.Count(logs.all(), "timed out waiting for its lock"), ddlOptions.Retries)

	row := history(t, db.Gorm)["1.0_expand01"]
	if row.Status != "failed" || !strings.Contains(row.Error, fmt.Sprintf("pid %d", pid)) {
		t.Fatalf("history row = %+v, want failed naming pid %d", row, pid)
	}
	wantColumns(t, db, "accounts", "id")
	res, err := r.Check(ctx, versions.Version{})
	if err != nil || res.Code != migrations.ExitError {
		t.Fatalf("check after the blocked migration = %+v, %v; want exit 1", res, err)
	}
}

// TestSessionTimeoutsRestored proves that a runner embedded in a service
// gives its connection back to the service's pool without the DDL timeouts.
func TestSessionTimeoutsRestored(t *testing.T) {
	for _, tc := range []struct {
		dialect dialect.Name
		query   string
	}{
		{dialect.Postgres, "SELECT current_setting('lock_timeout') || ' ' || current_setting('statement_timeout')"},
		{dialect.MySQL, "SELECT CAST(@@SESSION.lock_wait_timeout AS CHAR)"},
	} {
		t.Run(string(tc.dialect), func(t *testing.T) {
			db := dbtest.New(t, tc.dialect)
			g := db.Open(t)
			sqlDB, err := g.DB()
			if err != nil {
				t.Fatal(err)
			}
			sqlDB.SetMaxOpenConns(1) // the runner and the queries below share one session
			setting := func() string {
				var s string
				if err := g.Raw(tc.query).Scan(&s).Error; err != nil {
					t.Fatal(err)
				}
				return s
			}
			before := setting()
			r := newRunner(t, g, alterAccounts, migrations.WithDDL(dblock.DDLOptions{LockTimeout: 1500 * time.Millisecond, StatementTimeout: 7 * time.Second}))
			db.Exec(t, "CREATE TABLE accounts (id INT PRIMARY KEY)")
			if _, err := r.Expand(t.Context(), versions.Version{}); err != nil {
				t.Fatal(err)
			}
			wantEqual(t, "session timeouts after expand", setting(), before)
			_, err = newRunner(t, g, alterAccounts.with(files{"1.0_expand02_bad.sql": broken})).Expand(t.Context(), versions.Version{})
			if err == nil {
				t.Fatal("a broken migration succeeded")
			}
			wantEqual(t, "session timeouts after a failed expand", setting(), before)
		})
	}
}
