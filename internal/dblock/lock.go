package dblock

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
)

// DefaultKey is the lock name Acquire and Held use when none is given.
const DefaultKey = "tandem"

// DefaultPoll is the wait between two attempts to take a busy lock.
const DefaultPoll = 100 * time.Millisecond

// Options for Acquire.
type Options struct {
	// Key names the lock; "" means DefaultKey. Runners that use the same
	// key on the same database exclude each other. On MySQL, whose lock
	// names are server-wide, the database name is added to the key; on
	// SQLite there is one lock per database file whatever the key.
	Key string
	// Timeout is how long to wait for another runner to release the lock.
	// 0 (or less) tries once.
	Timeout time.Duration
	// Poll is the wait between two attempts; 0 means DefaultPoll.
	Poll time.Duration
	// Logf, if set, is told once that Acquire is waiting, and for whom
	// where the database shows who holds the lock.
	Logf func(format string, args ...any)
}

// ErrLockTimeout is wrapped by the *LockTimeoutError Acquire returns when the
// lock stayed busy for all of Options.Timeout.
var ErrLockTimeout = errors.New("timed out waiting for the runner lock")

// ErrNotSingleConn is returned by Acquire when conn is not bound to one
// database connection.
var ErrNotSingleConn = errors.New("the runner lock needs a *gorm.DB bound to one connection")

// LockTimeoutError reports that another session held the lock for all of the
// time Acquire was allowed to wait. It wraps ErrLockTimeout.
type LockTimeoutError struct {
	// Key is the lock's name as the caller gave it.
	Key string
	// Waited is how long Acquire waited.
	Waited time.Duration
	// Holder describes the session that holds the lock, where the
	// database tells: on PostgreSQL its backend pid, on MySQL its
	// connection id, with its client and its current or last statement.
	// It is "" when unknown (always on SQLite).
	Holder string
}

// Error implements error.
func (e *LockTimeoutError) Error() string {
	holder := e.Holder
	if holder == "" {
		holder = "another session"
	}
	return fmt.Sprintf("%v: the %q lock is still held after %s by %s; "+
		"hint: another tandem runner is working on this database: wait for it to finish and try again, "+
		"or allow a longer wait; if that session is stuck, end it and its lock goes with it",
		ErrLockTimeout, e.Key, e.Waited.Round(time.Millisecond), holder)
}

// Unwrap returns ErrLockTimeout.
func (e *LockTimeoutError) Unwrap() error {
	return ErrLockTimeout
}

// backend is the lock mechanism of one dialect, working on one connection.
type backend interface {
	// try makes one attempt to take the lock without waiting.
	try(ctx context.Context, c *sql.Conn) (bool, error)
	// holder describes the session holding the lock, or "" when unknown.
	holder(ctx context.Context, c *sql.Conn) string
	// release gives the lock up; abort gives it up undoing the work where
	// the dialect can (SQLite).
	release(ctx context.Context, c *sql.Conn) error
	abort(ctx context.Context, c *sql.Conn) error
}

// Lock is a held runner lock. Its methods are safe for concurrent use, but
// the connection it holds runs one statement at a time.
type Lock struct {
	key  string
	conn *sql.Conn
	db   *gorm.DB
	b    backend

	mu   sync.Mutex
	done bool
}

// Acquire takes the runner lock on conn, a *gorm.DB bound to one connection
// (as db.Connection hands it to its callback; its Statement.ConnPool is a
// *sql.Conn), and returns the held Lock. Do the work through Lock.DB and end
// with Release (or Abort) before the connection goes back to the pool.
//
// Acquire tries at once, then every Options.Poll until Options.Timeout has
// passed, and then returns a *LockTimeoutError (errors.Is(err,
// ErrLockTimeout)). When ctx ends first, the error wraps ctx.Err(); if it
// ended during an attempt, whose outcome is then unknown, the connection is
// closed so that it cannot go back to the pool holding the lock.
//
// Per dialect:
//
//   - PostgreSQL: a session-level advisory lock (pg_try_advisory_lock) on a
//     64-bit number derived from Key, released with pg_advisory_unlock. It
//     belongs to the session, so a runner that dies loses it with its
//     connection. DB returns conn; the work may open transactions on it
//     (conn.Transaction) as usual.
//   - MySQL/MariaDB: GET_LOCK on Key joined with the current database name
//     (names longer than 64 characters are hashed), released with
//     RELEASE_LOCK. Also bound to the session. DB returns conn.
//   - SQLite: BEGIN EXCLUSIVE on conn, retried while the database is busy,
//     with busy_timeout at 0 while polling (restored afterwards). DB returns
//     a *gorm.DB on the same connection whose DB().Transaction(fn) makes a
//     SAVEPOINT inside the one exclusive transaction, so that a failing
//     migration is undone alone. Everything done under the lock becomes
//     durable only when Release commits; Abort, or a crash, undoes all of
//     it. Key only names the lock in messages: SQLite has one write lock
//     per database file. Statements that cannot run inside a transaction
//     (VACUUM, or PRAGMA foreign_keys, which is then silently ignored)
//     cannot run under the lock.
func Acquire(ctx context.Context, conn *gorm.DB, opts Options) (*Lock, error) {
	key := opts.Key
	if key == "" {
		key = DefaultKey
	}
	c, err := singleConn(conn)
	if err != nil {
		return nil, fmt.Errorf("acquire the %q lock: %w", key, err)
	}
	poll := opts.Poll
	if poll <= 0 {
		poll = DefaultPoll
	}

	var (
		b  backend
		sb *sqliteBackend
	)
	switch d := dialect.Of(conn); d {
	case dialect.Postgres:
		b = pgBackend{id: advisoryID(key)}
	case dialect.MySQL:
		name, err := mysqlLockName(ctx, c, key)
		if err != nil {
			return nil, fmt.Errorf("acquire the %q lock: %w", key, err)
		}
		b = mysqlBackend{name: name}
	case dialect.SQLite:
		sb, err = newSQLiteBackend(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("acquire the %q lock: %w", key, err)
		}
		b = sb
	default:
		return nil, fmt.Errorf("acquire the %q lock: %w %q", key, dialect.ErrUnknownDialect, d)
	}

	lock, err := wait(ctx, c, b, key, opts.Timeout, poll, opts.Logf)
	if sb != nil {
		// Polling ran with busy_timeout 0; the work under the lock, and
		// the pool afterwards, get the connection's own setting back.
		if rerr := sb.restoreBusyTimeout(ctx, c); rerr != nil && err == nil {
			_ = lock.Abort(ctx)
			err = fmt.Errorf("acquire the %q lock: %w", key, rerr)
		}
	}
	if err != nil {
		return nil, err
	}
	lock.db = conn
	if sb != nil {
		lock.db = sb.gormDB(conn)
	}
	return lock, nil
}

// wait polls b until it takes the lock, the timeout passes or ctx ends.
func wait(ctx context.Context, c *sql.Conn, b backend, key string, timeout, poll time.Duration, logf func(string, ...any)) (*Lock, error) {
	start := time.Now()
	logged := false
	for {
		ok, err := b.try(ctx, c)
		if err != nil {
			if ctx.Err() != nil {
				// Cancelled mid-statement, the attempt may have
				// taken the lock: end the session to be sure.
				discard(c)
			}
			return nil, fmt.Errorf("acquire the %q lock: %w", key, err)
		}
		if ok {
			return &Lock{key: key, conn: c, b: b}, nil
		}
		waited := time.Since(start)
		if waited >= timeout {
			return nil, &LockTimeoutError{Key: key, Waited: waited, Holder: b.holder(ctx, c)}
		}
		if !logged && logf != nil {
			logged = true
			if h := b.holder(ctx, c); h != "" {
				logf("waiting for the %s lock held by %s", key, h)
			} else {
				logf("waiting for the %s lock held by another session", key)
			}
		}
		if err := sleep(ctx, min(poll, timeout-waited)); err != nil {
			return nil, fmt.Errorf("wait for the %q lock: %w", key, err)
		}
	}
}

// sleep waits for d or until ctx ends, whichever is first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// singleConn returns the one connection db is bound to.
func singleConn(db *gorm.DB) (*sql.Conn, error) {
	if db == nil || db.Statement == nil {
		return nil, ErrNotSingleConn
	}
	c, ok := db.Statement.ConnPool.(*sql.Conn)
	if !ok || c == nil {
		return nil, fmt.Errorf("%w, got %T; hint: run the work inside db.Connection(func(conn *gorm.DB) error { ... }) and pass conn",
			ErrNotSingleConn, db.Statement.ConnPool)
	}
	return c, nil
}

// DB returns the handle to do the work under the lock with. On PostgreSQL
// and MySQL it is the conn given to Acquire; on SQLite it runs inside the
// lock's exclusive transaction and turns Transaction into savepoints. On
// SQLite, do not call Commit or Rollback on it (they end the transaction,
// and the lock, early) nor Begin (it fails): use Transaction, and end with
// Release or Abort. After that the handle refuses statements.
func (l *Lock) DB() *gorm.DB {
	return l.db
}

// Key returns the name of the lock.
func (l *Lock) Key() string {
	return l.key
}

// Release gives the lock up. On SQLite it commits everything done under the
// lock, which becomes durable only now; if the commit fails, the work is
// rolled back and the error says so. When the lock cannot be given up
// cleanly (for instance the session is in a failed transaction, or ctx has
// ended), Release closes the connection instead, which ends the session and
// the lock with it, and reports what went wrong; on SQLite that also means
// the work is rolled back, so give Release a context that has not ended
// (context.WithoutCancel of a cancelled one will do). Calling Release or Abort
// again does nothing.
func (l *Lock) Release(ctx context.Context) error {
	return l.end(ctx, false)
}

// Abort gives the lock up. On SQLite it rolls back everything done under the
// lock; on PostgreSQL and MySQL, where each migration commits on its own, it
// is the same as Release.
func (l *Lock) Abort(ctx context.Context) error {
	return l.end(ctx, true)
}

func (l *Lock) end(ctx context.Context, abort bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return nil
	}
	l.done = true
	verb, do := "release", l.b.release
	if abort {
		verb, do = "abort", l.b.abort
	}
	err := do(ctx, l.conn)
	if err == nil {
		return nil
	}
	discard(l.conn)
	return fmt.Errorf("%s the %q lock: %w (the connection was closed, which ends the lock)", verb, l.key, err)
}

// discard closes the driver connection behind c instead of returning it to
// the pool, which ends the database session and every lock it holds.
func discard(c *sql.Conn) {
	_ = c.Raw(func(any) error { return driver.ErrBadConn })
}

// Held reports whether some session holds the lock named key ("" means
// DefaultKey) on the database of db, a connection pool:
//
//   - PostgreSQL: whether pg_locks shows the advisory lock granted;
//   - MySQL: whether IS_USED_LOCK names a connection;
//   - SQLite: whether BEGIN IMMEDIATE on a fresh connection of db finds the
//     database busy (it is rolled back at once). Any open write transaction
//     counts, not only a runner's; and db must be able to open a connection
//     besides the one holding the lock.
func Held(ctx context.Context, db *gorm.DB, key string) (bool, error) {
	if key == "" {
		key = DefaultKey
	}
	var (
		held bool
		err  error
	)
	switch d := dialect.Of(db); d {
	case dialect.Postgres:
		held, err = pgHeld(ctx, db, advisoryID(key))
	case dialect.MySQL:
		held, err = mysqlHeld(ctx, db, key)
	case dialect.SQLite:
		held, err = sqliteHeld(ctx, db)
	default:
		err = fmt.Errorf("%w %q", dialect.ErrUnknownDialect, d)
	}
	if err != nil {
		return false, fmt.Errorf("check the %q lock: %w", key, err)
	}
	return held, nil
}
