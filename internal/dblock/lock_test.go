package dblock_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dblock"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
)

func TestAcquireWhileHeld(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		cases := []struct {
			name string
			key  string
			// blocked says whether the second runner must wait.
			blocked bool
		}{
			{name: "same key", key: "tandem", blocked: true},
			// SQLite has one write lock per file, whatever the key.
			{name: "other key", key: "other", blocked: db.Dialect == dialect.SQLite},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				first := bind(t, db.Gorm)
				holderID := sessionID(t, first)
				l1, err := dblock.Acquire(ctx, first, dblock.Options{Key: "tandem"})
				if err != nil {
					t.Fatalf("first Acquire: %v", err)
				}
				defer l1.Release(ctx)

				held, err := dblock.Held(ctx, db.Gorm, "tandem")
				if err != nil || !held {
					t.Fatalf("Held while held = %v, %v; want true", held, err)
				}

				second := bind(t, db.Open(t))
				var rec logRecorder
				l2, err := dblock.Acquire(ctx, second, dblock.Options{
					Key: tc.key, Timeout: 300 * time.Millisecond, Poll: 50 * time.Millisecond, Logf: rec.logf,
				})
				if !tc.blocked {
					if err != nil {
						t.Fatalf("Acquire of another key: %v", err)
					}
					if err := l2.Release(ctx); err != nil {
						t.Fatalf("Release: %v", err)
					}
					return
				}
				if !errors.Is(err, dblock.ErrLockTimeout) {
					t.Fatalf("second Acquire = %v, want ErrLockTimeout", err)
				}
				var lte *dblock.LockTimeoutError
				if !errors.As(err, &lte) {
					t.Fatalf("second Acquire error is %T, want *LockTimeoutError", err)
				}
				if lte.Key != tc.key {
					t.Errorf("Key = %q, want %q", lte.Key, tc.key)
				}
				if holderID != 0 {
					want := fmt.Sprintf(" %d", holderID)
					if !strings.Contains(lte.Holder, want) {
						t.Errorf("Holder = %q, want it to name session%s", lte.Holder, want)
					}
					if !strings.Contains(err.Error(), lte.Holder) {
						t.Errorf("error %q does not name the holder %q", err, lte.Holder)
					}
				}
				if logs := rec.all(); len(logs) != 1 || !strings.Contains(logs[0], "waiting for the "+tc.key+" lock held by") {
					t.Errorf("Logf lines = %q, want one \"waiting for the %s lock held by ...\"", logs, tc.key)
				}

				if err := l1.Release(ctx); err != nil {
					t.Fatalf("Release: %v", err)
				}
				if err := l1.Release(ctx); err != nil {
					t.Fatalf("second Release: %v", err)
				}
				held, err = dblock.Held(ctx, db.Gorm, "tandem")
				if err != nil || held {
					t.Fatalf("Held after Release = %v, %v; want false", held, err)
				}
				l2, err = dblock.Acquire(ctx, second, dblock.Options{Key: tc.key})
				if err != nil {
					t.Fatalf("Acquire after Release: %v", err)
				}
				if err := l2.Release(ctx); err != nil {
					t.Fatalf("Release: %v", err)
				}
			})
		}
	})
}

func TestAcquireStopsWithContext(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		l1, err := dblock.Acquire(ctx, bind(t, db.Gorm), dblock.Options{})
		if err != nil {
			t.Fatalf("Acquire: %v", err)
		}
		defer l1.Release(ctx)

		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		_, err = dblock.Acquire(wctx, bind(t, db.Open(t)), dblock.Options{
			Timeout: time.Minute,
			// Cancel as soon as Acquire says it waits.
			Logf: func(string, ...any) { cancel() },
		})
		if !errors.Is(err, context.Canceled) || errors.Is(err, dblock.ErrLockTimeout) {
			t.Fatalf("Acquire with cancelled context = %v, want context.Canceled", err)
		}
	})
}

func TestAcquireNeedsOneConnection(t *testing.T) {
	db := dbtest.New(t, dialect.SQLite)
	_, err := dblock.Acquire(context.Background(), db.Gorm, dblock.Options{})
	if !errors.Is(err, dblock.ErrNotSingleConn) {
		t.Fatalf("Acquire on a pool = %v, want ErrNotSingleConn", err)
	}
}

func TestCrashedHolderLosesLock(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()

		// Another process takes the lock and dies: its connection
		// closes without releasing.
		other := db.Open(t)
		sqlDB, err := other.DB()
		if err != nil {
			t.Fatal(err)
		}
		c, err := sqlDB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conn := other.Session(&gorm.Session{NewDB: true, Context: ctx})
		conn.Statement.ConnPool = c
		if _, err := dblock.Acquire(ctx, conn, dblock.Options{}); err != nil {
			t.Fatalf("Acquire: %v", err)
		}
		if held, err := dblock.Held(ctx, db.Gorm, ""); err != nil || !held {
			t.Fatalf("Held before the crash = %v, %v; want true", held, err)
		}
		_ = c.Close()
		if err := sqlDB.Close(); err != nil {
			t.Fatal(err)
		}

		waitFree(t, db.Gorm)
		l, err := dblock.Acquire(ctx, bind(t, db.Gorm), dblock.Options{})
		if err != nil {
			t.Fatalf("Acquire after the crash: %v", err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
	})
}

func TestLockExcludesRunners(t *testing.T) {
	const runners = 8
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		db.Exec(t, "CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
		db.Exec(t, "INSERT INTO counter (id, n) VALUES (1, 0)")

		errs := make(chan error, runners)
		var wg sync.WaitGroup
		for i := range runners {
			wg.Go(func() {
				errs <- db.Gorm.Connection(func(conn *gorm.DB) error {
					lock, err := dblock.Acquire(ctx, conn, dblock.Options{Timeout: 30 * time.Second, Poll: 10 * time.Millisecond})
					if err != nil {
						return fmt.Errorf("runner %d: %w", i, err)
					}
					work := lock.DB()
					var n int64
					if err := work.Raw("SELECT n FROM counter WHERE id = 1").Scan(&n).Error; err != nil {
						_ = lock.Abort(ctx)
						return fmt.Errorf("runner %d read: %w", i, err)
					}
					if err := work.Exec("UPDATE counter SET n = ? WHERE id = 1", n+1).Error; err != nil {
						_ = lock.Abort(ctx)
						return fmt.Errorf("runner %d write: %w", i, err)
					}
					return lock.Release(ctx)
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if got := db.QueryInt(t, "SELECT n FROM counter WHERE id = 1"); got != runners {
			t.Fatalf("counter = %d after %d locked increments, want %d", got, runners, runners)
		}
	})
}

func TestSQLiteWorkUnderLock(t *testing.T) {
	errBoom := errors.New("boom")
	insert := func(id int) func(*gorm.DB) error {
		return func(db *gorm.DB) error {
			return db.Exec("INSERT INTO items (id) VALUES (?)", id).Error
		}
	}
	// A step runs through Lock.DB, inside DB.Transaction when inTx is set.
	type step struct {
		inTx bool
		fn   func(*gorm.DB) error
	}
	cases := []struct {
		name  string
		steps []step
		abort bool
		// want is the ids left after the lock ends.
		want string
	}{
		{
			name: "failed migration rolls back to its savepoint",
			steps: []step{
				{inTx: true, fn: insert(1)},
				{inTx: true, fn: func(db *gorm.DB) error {
					if err := insert(2)(db); err != nil {
						return err
					}
					return errBoom
				}},
				{inTx: false, fn: insert(3)},
			},
			want: "1,3",
		},
		{
			name: "abort rolls back everything",
			steps: []step{
				{inTx: true, fn: insert(1)},
				{inTx: false, fn: insert(2)},
			},
			abort: true,
			want:  "",
		},
		{
			name: "nested transactions are savepoints too",
			steps: []step{
				{inTx: true, fn: func(db *gorm.DB) error {
					if err := insert(1)(db); err != nil {
						return err
					}
					_ = db.Transaction(func(tx *gorm.DB) error {
						_ = insert(2)(tx)
						return errBoom
					})
					return insert(3)(db)
				}},
			},
			want: "1,3",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := dbtest.New(t, dialect.SQLite)
			db.Exec(t, "CREATE TABLE items (id INTEGER PRIMARY KEY)")
			observer := db.Open(t)

			lock, err := dblock.Acquire(ctx, bind(t, db.Gorm), dblock.Options{})
			if err != nil {
				t.Fatalf("Acquire: %v", err)
			}
			work := lock.DB()
			for i, s := range tc.steps {
				if s.inTx {
					err = work.Transaction(s.fn)
				} else {
					err = s.fn(work)
				}
				if err != nil && !errors.Is(err, errBoom) {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			if got := idsOf(t, observer, "items"); got != "" {
				t.Fatalf("another connection sees %q before the lock ends, want nothing", got)
			}
			if tc.abort {
				err = lock.Abort(ctx)
			} else {
				err = lock.Release(ctx)
			}
			if err != nil {
				t.Fatalf("end of lock: %v", err)
			}
			if got := idsOf(t, observer, "items"); got != tc.want {
				t.Fatalf("rows after the lock = %q, want %q", got, tc.want)
			}
			if err := work.Exec("INSERT INTO items (id) VALUES (9)").Error; err == nil {
				t.Fatal("Lock.DB still runs statements after the lock ended")
			}
			if held, err := dblock.Held(ctx, db.Gorm, ""); err != nil || held {
				t.Fatalf("Held after the lock = %v, %v; want false", held, err)
			}
		})
	}
}

// waitFree waits until Held reports the default lock free. The server ends
// the session of a closed connection as soon as it notices the closed
// socket; the test waits for that, not for a fixed time.
func waitFree(t *testing.T, g *gorm.DB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		held, err := dblock.Held(context.Background(), g, "")
		if err != nil {
			t.Fatalf("Held: %v", err)
		}
		if !held {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the lock of a closed connection is still held after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReleaseFromFailedTransaction(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, dialect.Postgres)
	conn := bind(t, db.Gorm)
	lock, err := dblock.Acquire(ctx, conn, dblock.Options{})
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	// The work leaves the session in a failed transaction, where
	// pg_advisory_unlock cannot run.
	if err := lock.DB().Exec("BEGIN").Error; err != nil {
		t.Fatal(err)
	}
	if err := lock.DB().Exec("SELECT 1/0").Error; err == nil {
		t.Fatal("SELECT 1/0 succeeded")
	}
	if err := lock.Release(ctx); err == nil || !strings.Contains(err.Error(), "connection was closed") {
		t.Fatalf("Release = %v, want an error saying the connection was closed", err)
	}
	waitFree(t, db.Gorm)
	l, err := dblock.Acquire(ctx, bind(t, db.Gorm), dblock.Options{})
	if err != nil {
		t.Fatalf("Acquire after the failed Release: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
}
