package dblock

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"
)

// sqliteBackend is the write lock of an SQLite database file, held by an
// exclusive transaction.
type sqliteBackend struct {
	// busyTimeout is the connection's busy_timeout before Acquire set it to
	// 0 for polling.
	busyTimeout int64
	tx          *txConn
}

// newSQLiteBackend reads c's busy_timeout and sets it to 0, so that each
// attempt to take the lock fails at once and Acquire's own polling, which
// honours the timeout and ctx, does the waiting.
func newSQLiteBackend(ctx context.Context, c *sql.Conn) (*sqliteBackend, error) {
	var ms int64
	if err := c.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&ms); err != nil {
		return nil, fmt.Errorf("read busy_timeout: %w", err)
	}
	if _, err := c.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
		return nil, fmt.Errorf("set busy_timeout: %w", err)
	}
	return &sqliteBackend{busyTimeout: ms}, nil
}

// restoreBusyTimeout gives c its busy_timeout back, even when ctx has ended.
func (b *sqliteBackend) restoreBusyTimeout(ctx context.Context, c *sql.Conn) error {
	// PRAGMA takes no bound parameters; the value is an integer we read.
	if _, err := c.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA busy_timeout = %d", b.busyTimeout)); err != nil {
		return fmt.Errorf("restore busy_timeout: %w", err)
	}
	return nil
}

func (b *sqliteBackend) try(ctx context.Context, c *sql.Conn) (bool, error) {
	_, err := c.ExecContext(ctx, "BEGIN EXCLUSIVE")
	switch {
	case err == nil:
		b.tx = &txConn{c: c}
		return true, nil
	case isSQLiteBusy(err):
		return false, nil
	}
	return false, fmt.Errorf("BEGIN EXCLUSIVE: %w", err)
}

// holder is unknown: SQLite does not tell who holds a lock.
func (b *sqliteBackend) holder(context.Context, *sql.Conn) string {
	return ""
}

func (b *sqliteBackend) release(ctx context.Context, c *sql.Conn) error {
	if err := b.tx.end(ctx, "COMMIT"); err != nil {
		if rerr := b.tx.end(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
			return fmt.Errorf("commit the work done under the lock: %w (rollback failed too: %v)", err, rerr)
		}
		return fmt.Errorf("commit the work done under the lock: %w; all of it was rolled back", err)
	}
	return nil
}

func (b *sqliteBackend) abort(ctx context.Context, c *sql.Conn) error {
	if err := b.tx.end(ctx, "ROLLBACK"); err != nil {
		return fmt.Errorf("roll back the work done under the lock: %w", err)
	}
	return nil
}

// gormDB returns a *gorm.DB like conn that runs its statements through the
// lock's transaction.
func (b *sqliteBackend) gormDB(conn *gorm.DB) *gorm.DB {
	ctx := conn.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	// A Context in the Session makes GORM copy the Statement, so setting
	// its ConnPool does not touch conn.
	db := conn.Session(&gorm.Session{NewDB: true, Context: ctx})
	db.Statement.ConnPool = b.tx
	return db
}

// errTxEnded is returned by a txConn used after its transaction ended.
var errTxEnded = errors.New("the runner lock's transaction has ended (released or aborted)")

// txConn is the gorm.ConnPool of Lock.DB on SQLite: the lock's connection
// inside its exclusive transaction. It implements gorm.TxCommitter, which
// makes GORM treat it as an open transaction: DB.Transaction(fn) then sets a
// SAVEPOINT, runs fn, and rolls back to the savepoint if fn fails, instead
// of beginning a transaction of its own. It implements neither
// gorm.TxBeginner nor gorm.ConnPoolBeginner, so GORM's default transaction
// around Create, Update and Delete is skipped and they run inside the lock's
// transaction too.
//
// Once the transaction has ended, PrepareContext, ExecContext and
// QueryContext fail with an error instead of running outside the lock.
type txConn struct {
	c     *sql.Conn
	ended atomic.Bool
	mu    sync.Mutex // serialises end
}

// PrepareContext implements gorm.ConnPool.
func (t *txConn) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if t.ended.Load() {
		return nil, errTxEnded
	}
	return t.c.PrepareContext(ctx, query)
}

// ExecContext implements gorm.ConnPool.
func (t *txConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if t.ended.Load() {
		return nil, errTxEnded
	}
	return t.c.ExecContext(ctx, query, args...)
}

// QueryContext implements gorm.ConnPool.
func (t *txConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if t.ended.Load() {
		return nil, errTxEnded
	}
	return t.c.QueryContext(ctx, query, args...)
}

// QueryRowContext implements gorm.ConnPool.
func (t *txConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return t.c.QueryRowContext(ctx, query, args...)
}

// Commit commits the lock's transaction, which also gives up the lock.
// GORM calls it only when asked to (DB.Commit), never for a nested
// Transaction; Lock.Release is the way to end the lock.
func (t *txConn) Commit() error {
	return t.end(context.Background(), "COMMIT")
}

// Rollback rolls the lock's whole transaction back, which also gives up
// the lock. GORM calls it only when asked to (DB.Rollback), never for a
// nested Transaction, which rolls back to its savepoint; Lock.Abort is the
// way to undo everything.
func (t *txConn) Rollback() error {
	return t.end(context.Background(), "ROLLBACK")
}

// end runs COMMIT or ROLLBACK once. A COMMIT that fails leaves the
// transaction open, for the ROLLBACK that follows.
func (t *txConn) end(ctx context.Context, stmt string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended.Load() {
		return errTxEnded
	}
	if _, err := t.c.ExecContext(ctx, stmt); err != nil {
		if stmt == "ROLLBACK" {
			t.ended.Store(true)
		}
		return fmt.Errorf("%s: %w", stmt, err)
	}
	t.ended.Store(true)
	return nil
}

// sqliteHeld tries to start a write transaction on a fresh connection of db.
func sqliteHeld(ctx context.Context, db *gorm.DB) (held bool, err error) {
	sqlDB, err := db.DB()
	if err != nil {
		return false, fmt.Errorf("%w (Held needs a connection pool, not a single connection)", err)
	}
	c, err := sqlDB.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer c.Close()
	b, err := newSQLiteBackend(ctx, c)
	if err != nil {
		discard(c)
		return false, err
	}
	defer func() {
		if rerr := b.restoreBusyTimeout(ctx, c); rerr != nil && err == nil {
			discard(c)
			err = rerr
		}
	}()
	if _, err := c.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		if isSQLiteBusy(err) {
			return true, nil
		}
		return false, fmt.Errorf("BEGIN IMMEDIATE: %w", err)
	}
	if _, err := c.ExecContext(ctx, "ROLLBACK"); err != nil {
		discard(c)
		return false, fmt.Errorf("ROLLBACK: %w", err)
	}
	return false, nil
}
