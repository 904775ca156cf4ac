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

// TestDuty: the duty is refused outside 0, 1 and [0.1, 0.9]; a share
// pauses t*(1-share)/share after a batch of t, on every dialect; 0 and
// DutyOff never pause by themselves.
func TestDuty(t *testing.T) {
	for _, d := range []float64{0.05, 0.95, -1, 2} {
		if err := checkDuty(d); err == nil {
			t.Errorf("duty %v accepted, want an error", d)
		}
	}
	for _, d := range []float64{0, DutyOff, 0.1, 0.5, 0.9} {
		if err := checkDuty(d); err != nil {
			t.Errorf("duty %v refused: %v", d, err)
		}
	}
	for d, want := range map[float64]time.Duration{0: 0, DutyOff: 0, 0.25: 300 * time.Millisecond, 0.5: 100 * time.Millisecond, 0.9: 100 * time.Millisecond / 9} {
		if got := dutyPause(d, 100*time.Millisecond); got != want {
			t.Errorf("duty %v after a batch of 100ms: pause %s, want %s", d, got, want)
		}
	}
}

// TestDutyAuto: the default duty (0, auto) samples only on PostgreSQL; a
// fixed share and DutyOff never sample. On PostgreSQL the governor leaves
// out exactly the transactions its own session ended (here 40 that read a
// table, as batches do), so alone in its database it sees next to none and
// does not pause; with another session busy it turns on, says so, and
// pauses 4 times a batch's time, and it stays on into the next table.
func TestDutyAuto(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		r, err := New(db.Gorm, fstest.MapFS{})
		if err != nil {
			t.Fatal(err)
		}
		var logged []string
		r.logf = func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }
		for _, d := range []float64{DutyOff, 0.5} {
			if g := r.dutyGovernor(ctx, db.Gorm, d); g.auto {
				t.Errorf("duty %v on %s: auto", d, db.Dialect)
			}
		}
		db.Exec(t, "CREATE TABLE duty_probe (id INT PRIMARY KEY, v INT)")
		db.Exec(t, "INSERT INTO duty_probe VALUES (1, 1)")
		err = db.Gorm.Connection(func(conn *gorm.DB) error {
			g := r.dutyGovernor(ctx, conn, 0)
			g.restart(ctx, conn) // as a table's backfill begins
			if g.auto != (db.Dialect == dialect.Postgres) {
				t.Fatalf("auto on %s: %v", db.Dialect, g.auto)
			}
			if !g.auto {
				if p := g.pause(ctx, conn, time.Second); p != 0 {
					t.Errorf("auto on %s: pause %s, want none", db.Dialect, p)
				}
				return nil
			}
			for i := range 40 {
				if err := conn.Exec("UPDATE duty_probe SET v = ? WHERE id = 1", i).Error; err != nil {
					t.Fatal(err)
				}
				g.ended(1)
			}
			g.sampled = g.sampled.Add(-autoDutySample)
			// Autovacuum may visit the new database: a few transactions.
			others, ok := g.sample(ctx, conn)
			if !ok || others < 0 || others > 5 || g.load.busy {
				t.Errorf("alone: sampled %v, %d transactions by others, busy %v; want a sample, next to none, not busy", ok, others, g.load.busy)
			}
			if p := g.pause(ctx, conn, time.Second); p != 0 {
				t.Errorf("alone: pause %s, want none", p)
			}
			stop := db.Busy(t)
			// PostgreSQL publishes a busy session's counts once a second.
			time.Sleep(autoDutySample + 1500*time.Millisecond)
			g.sampled = g.sampled.Add(-autoDutySample)
			others, ok = g.sample(ctx, conn)
			stop()
			if !ok || others < int64(autoDutyBusy) || !g.load.busy {
				t.Errorf("other session busy: sampled %v, %d transactions by others, busy %v; want busy", ok, others, g.load.busy)
			}
			if p := g.pause(ctx, conn, 100*time.Millisecond); p != 400*time.Millisecond {
				t.Errorf("busy: pause after a batch of 100ms %s, want 400ms", p)
			}
			// The next table starts a new window and keeps the state.
			g.restart(ctx, conn)
			if p := g.pause(ctx, conn, 100*time.Millisecond); !g.auto || !g.load.busy || p != 400*time.Millisecond || time.Since(g.sampled) > time.Second {
				t.Errorf("next table: auto %v, busy %v, pause %s, window from %s ago; want busy, 400ms, a new window", g.auto, g.load.busy, p, time.Since(g.sampled))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		wantLog := 0
		if db.Dialect == dialect.Postgres {
			wantLog = 1
		}
		if len(logged) != wantLog || (wantLog == 1 && !strings.Contains(logged[0], "duty auto: other sessions end")) {
			t.Errorf("on %s logged %q, want %d line(s) saying the duty applies", db.Dialect, logged, wantLog)
		}
	})
}

// TestDutyAutoHold: once on, the automatic duty stays on until the other
// sessions have been quiet for autoHold, and says when it lifts.
func TestDutyAutoHold(t *testing.T) {
	var logged []string
	g := &dutyGovernor{auto: true, logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }}
	checkAutoHold(t, autoDutyBusy, autoDutySample, "transactions", g.observe, func() bool { return g.load.busy })
	if len(logged) != 3 || !strings.Contains(logged[1], "no longer pauses") {
		t.Errorf("log lines %q, want on, off, on", logged)
	}
}
