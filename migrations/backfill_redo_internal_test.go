package migrations

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
)

// TestRedoThrottle: the redo limit is refused outside [0.2, 0.9]; it is on
// only where the server reports InnoDB's checkpoint age (MariaDB), and
// there a batch waits while the age is above the limit, at most the bound
// it is given. (The limit is set here below what validation allows, so
// that any redo not yet checkpointed is above it.)
func TestRedoThrottle(t *testing.T) {
	for _, l := range []float64{0.1, 0.95, -0.5, -2, 2} {
		if err := checkRedoLimit(l); err == nil {
			t.Errorf("redo limit %v accepted, want an error", l)
		}
	}
	for _, l := range []float64{0, RedoOff, 0.2, 0.5, 0.9} {
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

// TestRedoAuto: the default redo limit (0, auto) is silently off on
// PostgreSQL and SQLite, as RedoOff is everywhere. On MariaDB it reads the
// server's and its own session's statement counts, and turns on when the
// other sessions are busy: here a second connection that runs statements
// as fast as it can.
func TestRedoAuto(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		r, err := New(db.Gorm, fstest.MapFS{}, WithBackfill(BackfillOptions{RedoLimit: RedoOff}))
		if err != nil {
			t.Fatal(err)
		}
		var logged []string
		r.logf = func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }
		if th := r.redoThrottle(ctx, db.Gorm, RedoOff); th.on {
			t.Errorf("RedoOff: throttle on")
		}
		err = db.Gorm.Connection(func(conn *gorm.DB) error {
			th := r.redoThrottle(ctx, conn, 0)
			if db.Dialect != dialect.MySQL {
				if th.on {
					t.Errorf("auto on %s: throttle on", db.Dialect)
				}
				return nil
			}
			if !th.on || !th.auto || th.limit != autoRedoLimit || th.load.busy {
				t.Fatalf("auto on MariaDB: %+v, want on, auto, limit %v, not busy", th, autoRedoLimit)
			}
			// The session's count is this connection's statements exactly.
			g0, s0, err := statements(ctx, conn)
			if err != nil {
				t.Fatal(err)
			}
			for range 10 {
				if err := conn.Exec("SELECT 1").Error; err != nil {
					t.Fatal(err)
				}
			}
			g1, s1, err := statements(ctx, conn)
			if err != nil {
				t.Fatal(err)
			}
			if s1-s0 != 11 || g1-g0 < s1-s0 {
				t.Errorf("statements: session %d -> %d, server %d -> %d; want 11 more in the session (10 and the reading), at least as many in the server", s0, s1, g0, g1)
			}
			// Another session busy: the throttle turns on, with a log line.
			stop := db.Busy(t)
			time.Sleep(2 * autoSample)
			th.sample(ctx, conn)
			stop()
			if !th.load.busy || !th.on {
				t.Errorf("other session busy: throttle %+v, want busy", th)
			}
			if len(logged) != 1 || !strings.Contains(logged[0], "redo limit auto: other sessions run") {
				t.Errorf("log lines %q, want one saying the limit now applies", logged)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if db.Dialect != dialect.MySQL && len(logged) != 0 {
			t.Errorf("auto on %s logged %q, want nothing", db.Dialect, logged)
		}
	})
}

// TestRedoAutoHold: once on, the automatic limit stays on until the other
// sessions have been quiet for autoHold, and says when it lifts.
func TestRedoAutoHold(t *testing.T) {
	var logged []string
	th := &redoThrottle{on: true, auto: true, limit: autoRedoLimit, logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }}
	checkAutoHold(t, autoBusy, time.Second, "statements", th.observe, func() bool { return th.load.busy })
	if len(logged) != 3 || !strings.Contains(logged[1], "batches no longer wait") {
		t.Errorf("log lines %q, want on, off, on", logged)
	}
}

// checkAutoHold feeds observe samples taken every apart, of rates of unit a
// second against the threshold busy, and checks after each whether busy()
// says the other sessions are busy: not under the threshold, then from the
// first sample at it until autoHold of quiet ones, then again at once.
func checkAutoHold(t *testing.T, threshold float64, every time.Duration, unit string, observe func(rate float64, now time.Time), busy func() bool) {
	t.Helper()
	t0 := time.Now()
	steps := []struct {
		after time.Duration
		rate  float64
		busy  bool
	}{
		{0, threshold - 1, false},
		{every, threshold, true},
		{2 * every, 0, true},
		{every + autoHold - time.Millisecond, 0, true},
		{every + autoHold, 0, false},
		{2*every + autoHold, 500, true},
	}
	for _, s := range steps {
		observe(s.rate, t0.Add(s.after))
		if got := busy(); got != s.busy {
			t.Errorf("after %s at %v %s/s: busy %v, want %v", s.after, s.rate, unit, got, s.busy)
		}
	}
}
