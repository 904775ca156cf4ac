package migrations_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

// runners is how many runners start at once.
const runners = 8

// counted creates a table where each migration records that it ran, so a
// migration that ran twice shows up as a count of 2.
var counted = files{
	"1.0_expand01_counter.sql": "CREATE TABLE ran (id VARCHAR(64) NOT NULL);\nINSERT INTO ran (id) VALUES ('1.0_expand01');\n",
	"1.0_expand03_after.sql":   "ALTER TABLE ran ADD COLUMN note VARCHAR(20);\nINSERT INTO ran (id) VALUES ('1.0_expand03');\n",
	"1.1_expand01_next.sql":    "INSERT INTO ran (id) VALUES ('1.1_expand01');\n",
}

// slowGo is a Go migration that takes long enough for the runners to
// overlap, then records that it ran.
var slowGo = migrations.GoMigration{ID: "1.0_expand02", Revision: "1", Func: func(ctx context.Context, db *gorm.DB) error {
	select {
	case <-time.After(300 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	return db.Exec("INSERT INTO ran (id) VALUES ('1.0_expand02')").Error
}}

// wantRanOnce fails the test unless each of ids has exactly one history
// row, applied, and recorded exactly one run in table ran.
func wantRanOnce(t *testing.T, db *dbtest.DB, ids ...string) {
	t.Helper()
	h := history(t, db.Gorm)
	if len(h) != len(ids) {
		t.Fatalf("history has %d rows, want %d: %v", len(h), len(ids), h)
	}
	for _, id := range ids {
		if h[id].Status != "applied" {
			t.Fatalf("history of %s = %+v, want applied", id, h[id])
		}
		wantEqual(t, "runs of "+id, db.QueryInt(t, "SELECT COUNT(*) FROM ran WHERE id = ?", id), 1)
	}
	wantEqual(t, "runs in all", db.QueryInt(t, "SELECT COUNT(*) FROM ran"), int64(len(ids)))
	wantEqual(t, "expand journal events", int64(len(journal(t, db.Gorm, "expand"))), runners)
}

func TestConcurrentRunnersGoroutines(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		rs := make([]*migrations.Runner, runners)
		for i := range rs {
			rs[i] = newRunner(t, db.Open(t), counted, migrations.WithGoMigrations(slowGo))
		}
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			errs    = make([]error, runners)
			applied = make([][]string, runners)
		)
		for i, r := range rs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				rep, err := r.Expand(ctx, versions.Version{})
				errs[i] = err
				if rep != nil {
					applied[i] = rep.Applied
				}
			}()
		}
		close(start)
		wg.Wait()

		var all []string
		for i, err := range errs {
			if err != nil {
				t.Fatalf("runner %d: %v (exit code %d)", i, err, migrations.ExitCode(err))
			}
			all = append(all, applied[i]...)
		}
		// The migrations were applied once in all, whoever applied them.
		wantEqual(t, "migrations applied by all runners", strings.Join(sorted(all), ","), "1.0_expand01,1.0_expand02,1.0_expand03,1.1_expand01")
		wantRanOnce(t, db, "1.0_expand01", "1.0_expand02", "1.0_expand03", "1.1_expand01")
		wantMap(t, "states", states(t, db.Gorm), map[string]string{"1.0": "expanded", "1.1": "expanded"})
	})
}

func TestConcurrentRunnersProcesses(t *testing.T) {
	bin := cliBinary(t)
	// SQLite has no sleep: there the middle migration is many statements.
	var filler strings.Builder
	filler.WriteString("CREATE TABLE filler (n INT);\n")
	for i := range 400 {
		fmt.Fprintf(&filler, "INSERT INTO filler (n) VALUES (%d);\n", i)
	}
	filler.WriteString("INSERT INTO ran (id) VALUES ('1.0_expand02');\n")
	dir := counted.with(files{
		"1.0_expand02_slow.sql":          filler.String(),
		"1.0_expand02_slow.postgres.sql": "SELECT pg_sleep(0.3);\nINSERT INTO ran (id) VALUES ('1.0_expand02');\n",
		"1.0_expand02_slow.mysql.sql":    "DO SLEEP(0.3);\nINSERT INTO ran (id) VALUES ('1.0_expand02');\n",
	}).writeDir(t)

	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
		defer cancel()
		var (
			wg    sync.WaitGroup
			codes = make([]int, runners)
			outs  = make([]string, runners)
		)
		for i := range runners {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], outs[i] = runCLI(ctx, t, bin, "expand", "--dsn", db.DSN, "--dir", dir, "--lock-timeout", "80s")
			}()
		}
		wg.Wait()
		for i, code := range codes {
			if code != 0 {
				t.Fatalf("process %d exited %d:\n%s", i, code, outs[i])
			}
		}
		wantRanOnce(t, db, "1.0_expand01", "1.0_expand02", "1.0_expand03", "1.1_expand01")
		if hasTable(t, db, "filler") {
			wantEqual(t, "filler rows", db.QueryInt(t, "SELECT COUNT(*) FROM filler"), 400)
		}
		for _, row := range history(t, db.Gorm) {
			if row.Actor != "test@cli" {
				t.Fatalf("history actor = %q, want the CLI's TANDEM_ACTOR", row.Actor)
			}
		}
	})
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
