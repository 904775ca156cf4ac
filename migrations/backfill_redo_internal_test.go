package migrations

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
)

// TestRedoThrottle: the redo limit is refused outside [0.2, 0.9]; it is on
// only where the server reports InnoDB's checkpoint age (MariaDB), and
// there a batch waits while the age is above the limit, at most the bound
// it is given. (The limit is set here below what validation allows, so
// that any redo not yet checkpointed is above it.)
func TestRedoThrottle(t *testing.T) {
	for _, l := range []float64{0.1, 0.95, -0.5, 2} {
		if err := checkRedoLimit(l); err == nil {
			t.Errorf("redo limit %v accepted, want an error", l)
		}
	}
	for _, l := range []float64{0, 0.2, 0.5, 0.9} {
		if err := checkRedoLimit(l); err != nil {
			t.Errorf("redo limit %v refused: %v", l, err)
		}
	}
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		r, err := New(db.Gorm, fstest.MapFS{}, WithBackfill(BackfillOptions{RedoLimit: 0.5}))
		if err != nil {
			t.Fatal(err)
		}
		var logged []string
		r.logf = func(f string, a ...any) { logged = append(logged, f) }
		var version string
		if err := db.Gorm.Raw("SELECT VERSION()").Scan(&version).Error; err != nil && db.Dialect != dialect.SQLite {
			t.Fatal(err)
		}
		mariadb := db.Dialect == dialect.MySQL && strings.Contains(version, "MariaDB")
		th := r.redoThrottle(ctx, db.Gorm, 0.5)
		r.redoThrottle(ctx, db.Gorm, 0.5) // a second table of the same run
		if th.on != mariadb {
			t.Fatalf("throttle on %s (%s): %v", db.Dialect, version, th.on)
		}
		if !th.on {
			if len(logged) != 1 {
				t.Errorf("log lines %q, want one saying the limit is ignored", logged)
			}
			return
		}
		// Some redo not yet checkpointed.
		db.Exec(t, "CREATE TABLE redo_probe (id INT PRIMARY KEY, v INT)")
		db.Exec(t, "INSERT INTO redo_probe VALUES (1, 1), (2, 2), (3, 3)")
		age, maxAge, ok, err := checkpointAge(ctx, db.Gorm)
		if err != nil || !ok || age <= 0 || maxAge <= age {
			t.Fatalf("checkpoint age %d of %d (%v, %v): want some redo not yet checkpointed", age, maxAge, ok, err)
		}
		bound := 300 * time.Millisecond
		w, err := th.wait(ctx, db.Gorm, 1e-12, bound)
		if err != nil || w < bound {
			t.Errorf("wait above the limit: %s, %v; want the bound, %s", w, err, bound)
		}
		w, err = th.wait(ctx, db.Gorm, 1, bound)
		if err != nil || w != 0 {
			t.Errorf("wait under the limit: %s, %v; want none", w, err)
		}
		// A status query that fails turns the throttle off, and the
		// backfill goes on.
		broken := db.Open(t)
		sqlDB, err := broken.DB()
		if err != nil {
			t.Fatal(err)
		}
		_ = sqlDB.Close()
		logged = nil
		if w, err := th.wait(ctx, broken, 1e-12, bound); err != nil || w != 0 || th.on {
			t.Errorf("wait on a closed connection: %s, %v, throttle on %v; want no wait, no error, throttle off", w, err, th.on)
		}
		if len(logged) != 1 {
			t.Errorf("log lines %q, want one saying the limit is dropped", logged)
		}
		th.on = true
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := th.wait(cctx, db.Gorm, 1e-12, time.Minute); err == nil {
			t.Error("wait with a cancelled context: no error")
		}
	})
}
