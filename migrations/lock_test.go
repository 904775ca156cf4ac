package migrations_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dblock"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

var locked = files{
	"1.0_expand01_things.sql": "CREATE TABLE things (id INT PRIMARY KEY);\n",
	"1.0_migrate01_seed.sql":  "INSERT INTO things (id) VALUES (1);\n",
}

func TestLockTimeoutThenRetry(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		holder, err := dblock.Acquire(ctx, bind(t, db.Open(t)), dblock.Options{Key: migrations.LockKey})
		if err != nil {
			t.Fatalf("hold the runner lock: %v", err)
		}
		t.Cleanup(func() { _ = holder.Release(context.Background()) })

		r := newRunner(t, db.Gorm, locked, migrations.WithLockTimeout(300*time.Millisecond))
		_, err = r.Expand(ctx, versions.Version{})
		if !errors.Is(err, dblock.ErrLockTimeout) {
			t.Fatalf("expand while another runner holds the lock: %v, want ErrLockTimeout", err)
		}
		asError[*dblock.LockTimeoutError](t, err)
		wantEqual(t, "ExitCode", migrations.ExitCode(err), migrations.ExitBlocked)
		if hasTable(t, db, "things") {
			t.Fatal("a runner without the lock applied a migration")
		}

		if err := holder.Release(ctx); err != nil {
			t.Fatal(err)
		}
		rep, err := r.Expand(ctx, versions.Version{})
		if err != nil {
			t.Fatalf("expand after the lock was released: %v", err)
		}
		wantSlice(t, "applied", rep.Applied, []string{"1.0_expand01"})
	})
}

func TestWaitingRunnerFindsWorkDone(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		var (
			calls       atomic.Int32
			started     = make(chan struct{})
			startedOnce sync.Once
			proceed     = make(chan struct{})
		)
		// The first runner stops inside this migration, holding the lock,
		// until the second is waiting for it.
		gate := migrations.GoMigration{ID: "1.0_expand02", Revision: "1", Func: func(ctx context.Context, db *gorm.DB) error {
			calls.Add(1)
			startedOnce.Do(func() { close(started) })
			select {
			case <-proceed:
			case <-ctx.Done():
				return ctx.Err()
			}
			return db.Exec("INSERT INTO things (id) VALUES (2)").Error
		}}
		first := newRunner(t, db.Gorm, locked, migrations.WithGoMigrations(gate))
		logs := &logRecorder{}
		waiting := make(chan struct{})
		logs.on("waiting for the", func() { close(waiting) })
		second := newRunner(t, db.Open(t), locked, migrations.WithGoMigrations(gate),
			migrations.WithLockTimeout(time.Minute), migrations.WithLogf(logs.logf))

		type result struct {
			rep *migrations.Report
			err error
		}
		firstDone, secondDone := make(chan result, 1), make(chan result, 1)
		go func() {
			rep, err := first.Expand(ctx, versions.Version{})
			firstDone <- result{rep, err}
		}()
		select {
		case <-started:
		case res := <-firstDone:
			t.Fatalf("first runner ended before its migration: %v", res.err)
		}
		go func() {
			rep, err := second.Expand(ctx, versions.Version{})
			secondDone <- result{rep, err}
		}()
		select {
		case <-waiting:
		case res := <-secondDone:
			close(proceed)
			t.Fatalf("second runner did not wait for the lock: %+v, %v", res.rep, res.err)
		}
		close(proceed)

		a, b := <-firstDone, <-secondDone
		if a.err != nil || b.err != nil {
			t.Fatalf("first: %v; second: %v", a.err, b.err)
		}
		wantSlice(t, "applied by the first", a.rep.Applied, []string{"1.0_expand01", "1.0_expand02"})
		wantSlice(t, "applied by the waiting runner", b.rep.Applied, []string{})
		wantEqual(t, "exit code of the waiting runner", migrations.ExitCode(b.err), migrations.ExitOK)
		wantEqual(t, "runs of the Go migration", calls.Load(), 1)
		wantEqual(t, "rows", db.QueryInt(t, "SELECT COUNT(*) FROM things"), 1)
		wantSlice(t, "history", historyIDs(t, db.Gorm, "applied"), []string{"1.0_expand01", "1.0_expand02"})
		if !strings.Contains(logs.all(), "expand up to 1.0: 0 migration(s) applied") {
			t.Fatalf("waiting runner's log:\n%s", logs.all())
		}
	})
}
