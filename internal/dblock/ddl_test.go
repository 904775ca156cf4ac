package dblock_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dblock"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
)

// holdTable opens a transaction on a connection of its own that runs stmt
// and stays open; it returns the session id and a func that commits it.
func holdTable(t *testing.T, db *dbtest.DB, stmt string) (id int64, commit func()) {
	t.Helper()
	holder := bind(t, db.Open(t))
	id = sessionID(t, holder)
	if err := holder.Exec("BEGIN").Error; err != nil {
		t.Fatal(err)
	}
	if err := holder.Exec(stmt).Error; err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
	var once sync.Once
	commit = func() {
		once.Do(func() {
			if err := holder.Exec("COMMIT").Error; err != nil {
				t.Errorf("holder COMMIT: %v", err)
			}
		})
	}
	t.Cleanup(commit)
	return id, commit
}

// timeouts returns the lock and statement timeouts of a bound conn's
// session: PostgreSQL's lock_timeout and statement_timeout, MySQL's
// lock_wait_timeout, nothing on SQLite.
func timeouts(t *testing.T, conn *gorm.DB) (lock, stmt string) {
	t.Helper()
	switch dialect.Of(conn) {
	case dialect.Postgres:
		if err := conn.Raw("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')").Row().Scan(&lock, &stmt); err != nil {
			t.Fatal(err)
		}
	case dialect.MySQL:
		if err := conn.Raw("SELECT CAST(@@SESSION.lock_wait_timeout AS CHAR)").Row().Scan(&lock); err != nil {
			t.Fatal(err)
		}
	}
	return lock, stmt
}

func TestRetryDDLPostgres(t *testing.T) {
	db := dbtest.New(t, dialect.Postgres)
	cases := []struct {
		name  string
		table string
		hold  string
		// commitAfterFirst makes the holder commit once the first
		// attempt has timed out.
		commitAfterFirst bool
	}{
		{name: "holder keeps an exclusive lock", table: "t_lock", hold: "LOCK TABLE t_lock IN ACCESS EXCLUSIVE MODE"},
		{name: "holder read in an open transaction", table: "t_read", hold: "SELECT * FROM t_read"},
		{name: "holder commits after the first timeout", table: "t_commit", hold: "SELECT * FROM t_commit", commitAfterFirst: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db.Exec(t, "CREATE TABLE "+tc.table+" (id int PRIMARY KEY)")
			holderPID, commit := holdTable(t, db, tc.hold)

			var rec logRecorder
			released := make(chan struct{})
			var first sync.Once
			logf := func(format string, args ...any) {
				rec.logf(format, args...)
				if tc.commitAfterFirst {
					first.Do(func() {
						go func() {
							commit()
							close(released)
						}()
						<-released
					})
				}
			}

			conn := bind(t, db.Gorm)
			attempts := 0
			err := dblock.RetryDDL(ctx, conn, dblock.DDLOptions{
				LockTimeout: 100 * time.Millisecond, Retries: 2, Backoff: 50 * time.Millisecond, Logf: logf,
			}, func(ctx context.Context) error {
				attempts++
				return conn.WithContext(ctx).Exec("ALTER TABLE " + tc.table + " ADD COLUMN x int").Error
			})

			if tc.commitAfterFirst {
				if err != nil {
					t.Fatalf("RetryDDL after the holder committed: %v", err)
				}
				if attempts != 2 {
					t.Errorf("attempts = %d, want 2", attempts)
				}
				if cols := db.Columns(t, tc.table); !slices.Contains(cols, "x") {
					t.Fatalf("columns = %v, want x added", cols)
				}
				return
			}

			var blocked *dblock.DDLBlockedError
			if !errors.As(err, &blocked) {
				t.Fatalf("RetryDDL = %v (%T), want *DDLBlockedError", err, err)
			}
			if blocked.Attempts != 3 || attempts != 3 {
				t.Errorf("Attempts = %d, fn ran %d times; want 3", blocked.Attempts, attempts)
			}
			if !slices.ContainsFunc(blocked.Blockers, func(b dblock.Blocker) bool { return b.PID == holderPID }) {
				t.Errorf("Blockers = %+v, want pid %d", blocked.Blockers, holderPID)
			}
			msg := err.Error()
			for _, want := range []string{
				"DDL could not take its lock after 3 attempts",
				fmt.Sprintf("blocked by pid %d (idle in transaction): %s", holderPID, tc.hold),
				"hint: end that transaction or raise --lock-timeout",
			} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			if !dblock.IsLockTimeout(err) {
				t.Errorf("IsLockTimeout(%v) = false, want true", err)
			}
			if logs := rec.all(); len(logs) != 2 {
				t.Errorf("Logf lines = %q, want one per retry (2)", logs)
			}
			if cols := db.Columns(t, tc.table); slices.Contains(cols, "x") {
				t.Fatalf("columns = %v, want no x", cols)
			}
		})
	}
}

// TestRetryDDLQueuedBlocker: on PostgreSQL the sessions named are the ones
// that made the statement wait, seen by the watch on a second connection,
// even one that holds no lock on the table itself: here a LOCK TABLE queued
// behind an open read, which the statement queues behind in turn. The guess
// made when the watch saw nothing (sessions holding a lock on a table)
// would name only the reader.
func TestRetryDDLQueuedBlocker(t *testing.T) {
	db := dbtest.New(t, dialect.Postgres)
	ctx := context.Background()
	db.Exec(t, "CREATE TABLE t_queue (id int PRIMARY KEY)")
	readerPID, commitReader := holdTable(t, db, "SELECT * FROM t_queue")

	locker := bind(t, db.Open(t))
	lockerPID := sessionID(t, locker)
	locked := make(chan error, 1)
	go func() {
		err := locker.Exec("BEGIN").Error
		if err == nil {
			err = locker.Exec("LOCK TABLE t_queue IN ACCESS EXCLUSIVE MODE").Error
		}
		if err == nil {
			err = locker.Exec("COMMIT").Error
		}
		locked <- err
	}()
	// Wait until the LOCK TABLE waits in the queue.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting bool
		if err := db.Gorm.Raw("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = ? AND wait_event_type = 'Lock')", lockerPID).Scan(&waiting).Error; err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("LOCK TABLE never queued behind the open read")
		}
		time.Sleep(10 * time.Millisecond)
	}

	conn := bind(t, db.Gorm)
	err := dblock.RetryDDL(ctx, conn, dblock.DDLOptions{LockTimeout: 300 * time.Millisecond, Retries: -1}, func(ctx context.Context) error {
		return conn.WithContext(ctx).Exec("SELECT * FROM t_queue").Error
	})
	var blocked *dblock.DDLBlockedError
	if !errors.As(err, &blocked) {
		t.Fatalf("RetryDDL = %v (%T), want *DDLBlockedError", err, err)
	}
	pids := make([]int64, len(blocked.Blockers))
	for i, b := range blocked.Blockers {
		pids[i] = b.PID
	}
	if !slices.Contains(pids, lockerPID) || slices.Contains(pids, readerPID) {
		t.Errorf("blockers %v; want the queued LOCK TABLE's pid %d, not the reader's %d", pids, lockerPID, readerPID)
	}
	commitReader()
	if err := <-locked; err != nil {
		t.Errorf("LOCK TABLE after the reader committed: %v", err)
	}
}

func TestRetryDDLMySQL(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, dialect.MySQL)
	db.Exec(t, "CREATE TABLE t (id int PRIMARY KEY)")
	holderID, _ := holdTable(t, db, "SELECT * FROM t")

	conn := bind(t, db.Gorm)
	// lock_wait_timeout counts whole seconds: this waits 1s, once.
	err := dblock.RetryDDL(ctx, conn, dblock.DDLOptions{LockTimeout: time.Second, Retries: -1},
		func(ctx context.Context) error {
			return conn.WithContext(ctx).Exec("ALTER TABLE t ADD COLUMN x int").Error
		})
	var blocked *dblock.DDLBlockedError
	if !errors.As(err, &blocked) {
		t.Fatalf("RetryDDL = %v (%T), want *DDLBlockedError", err, err)
	}
	if blocked.Attempts != 1 {
		t.Errorf("Attempts = %d, want 1", blocked.Attempts)
	}
	// An idle MySQL session shows no statement, unlike PostgreSQL.
	if want := fmt.Sprintf("blocked by pid %d (idle in transaction); hint: end that transaction", holderID); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

func TestRetryDDLReturnsOtherOutcomes(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE t (id int PRIMARY KEY)")
		cases := []struct {
			name    string
			stmt    string
			wantErr bool
		}{
			{name: "success", stmt: "ALTER TABLE t ADD COLUMN x int"},
			{name: "error other than a lock timeout", stmt: "ALTER TABLE missing ADD COLUMN x int", wantErr: true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				conn := bind(t, db.Gorm)
				lockBefore, stmtBefore := timeouts(t, conn)
				attempts := 0
				err := dblock.RetryDDL(context.Background(), conn, dblock.DDLOptions{StatementTimeout: time.Minute}, func(ctx context.Context) error {
					attempts++
					return conn.WithContext(ctx).Exec(tc.stmt).Error
				})
				if (err != nil) != tc.wantErr {
					t.Fatalf("RetryDDL = %v, want error: %v", err, tc.wantErr)
				}
				var blocked *dblock.DDLBlockedError
				if errors.As(err, &blocked) || dblock.IsLockTimeout(err) {
					t.Errorf("RetryDDL = %v, want the statement's own error", err)
				}
				if attempts != 1 {
					t.Errorf("fn ran %d times, want 1", attempts)
				}
				if lock, stmt := timeouts(t, conn); lock != lockBefore || stmt != stmtBefore {
					t.Errorf("timeouts after RetryDDL = %q, %q; want the session's own %q, %q", lock, stmt, lockBefore, stmtBefore)
				}
			})
		}
	})
}

func TestSetSessionTimeouts(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		defLock, defStmt := timeouts(t, bind(t, db.Gorm))

		cases := []struct {
			name               string
			opts               dblock.DDLOptions
			wantLock, wantStmt map[dialect.Name]string
		}{
			{
				name:     "defaults",
				opts:     dblock.DDLOptions{},
				wantLock: map[dialect.Name]string{dialect.Postgres: "2s", dialect.MySQL: "2"},
				wantStmt: map[dialect.Name]string{dialect.Postgres: defStmt},
			},
			{
				name:     "explicit",
				opts:     dblock.DDLOptions{LockTimeout: 150 * time.Millisecond, StatementTimeout: 5 * time.Second},
				wantLock: map[dialect.Name]string{dialect.Postgres: "150ms", dialect.MySQL: "1"},
				wantStmt: map[dialect.Name]string{dialect.Postgres: "5s"},
			},
			{
				name:     "negative leaves lock timeout alone",
				opts:     dblock.DDLOptions{LockTimeout: -1},
				wantLock: map[dialect.Name]string{dialect.Postgres: defLock, dialect.MySQL: defLock},
				wantStmt: map[dialect.Name]string{dialect.Postgres: defStmt},
			},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				conn := bind(t, db.Open(t))
				if err := dblock.SetSessionTimeouts(ctx, conn, tc.opts); err != nil {
					t.Fatalf("SetSessionTimeouts: %v", err)
				}
				lock, stmt := timeouts(t, conn)
				if lock != tc.wantLock[db.Dialect] || stmt != tc.wantStmt[db.Dialect] {
					t.Fatalf("lock, statement timeout = %q, %q; want %q, %q",
						lock, stmt, tc.wantLock[db.Dialect], tc.wantStmt[db.Dialect])
				}
			})
		}
	})
}

func TestIsLockTimeout(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		db.Exec(t, "CREATE TABLE t (id int PRIMARY KEY)")
		db.Exec(t, "INSERT INTO t (id) VALUES (1)")
		// Another session holds what the statements below want.
		hold := map[dialect.Name]string{
			dialect.Postgres: "LOCK TABLE t IN ACCESS EXCLUSIVE MODE",
			dialect.MySQL:    "SELECT * FROM t FOR UPDATE",
			dialect.SQLite:   "INSERT INTO t (id) VALUES (2)",
		}[db.Dialect]
		holdTable(t, db, hold)

		conn := bind(t, db.Gorm)
		// Make the statement below give up at once, or nearly.
		setup := map[dialect.Name]string{
			dialect.Postgres: "SET lock_timeout = '10ms'",
			dialect.SQLite:   "PRAGMA busy_timeout = 0",
		}[db.Dialect]
		if setup != "" {
			if err := conn.Exec(setup).Error; err != nil {
				t.Fatal(err)
			}
		}
		blocked := map[dialect.Name]string{
			dialect.Postgres: "SELECT * FROM t",
			dialect.MySQL:    "SELECT * FROM t WHERE id = 1 FOR UPDATE NOWAIT",
			dialect.SQLite:   "BEGIN IMMEDIATE",
		}[db.Dialect]
		lockErr := conn.Exec(blocked).Error
		otherErr := conn.Exec("SELECT * FROM missing_table").Error
		if lockErr == nil || otherErr == nil {
			t.Fatalf("want two errors, got %v and %v", lockErr, otherErr)
		}

		cases := []struct {
			name string
			err  error
			want bool
		}{
			{name: "lock not available", err: lockErr, want: true},
			{name: "wrapped lock not available", err: fmt.Errorf("migrate 2.0_expand01: %w", lockErr), want: true},
			{name: "DDL blocked", err: &dblock.DDLBlockedError{Attempts: 1, Err: lockErr}, want: true},
			{name: "missing table", err: otherErr},
			{name: "context canceled", err: context.Canceled},
			{name: "runner lock timeout", err: &dblock.LockTimeoutError{Key: "tandem"}},
			{name: "nil", err: nil},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if got := dblock.IsLockTimeout(tc.err); got != tc.want {
					t.Fatalf("IsLockTimeout(%v) = %v, want %v", tc.err, got, tc.want)
				}
			})
		}
	})
}
