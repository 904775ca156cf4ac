package dblock

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
)

// Defaults of DDLOptions.
const (
	// DefaultLockTimeout is the lock_timeout of DDLOptions{}.
	DefaultLockTimeout = 2 * time.Second
	// DefaultRetries is the number of retries of DDLOptions{}.
	DefaultRetries = 5
	// DefaultBackoff is the first wait between attempts of DDLOptions{}.
	DefaultBackoff = 200 * time.Millisecond
	// MaxBackoff caps the doubling wait between two attempts.
	MaxBackoff = 5 * time.Second
)

// DDLOptions say how long a schema change may wait for its table lock, and
// how often to try again.
type DDLOptions struct {
	// LockTimeout bounds how long one statement waits for a lock: 0 means
	// DefaultLockTimeout, a negative value leaves the session's setting
	// alone. A DDL statement waiting for its lock makes every later query
	// on the table queue behind it, so the wait must be short.
	LockTimeout time.Duration
	// StatementTimeout bounds how long one statement runs (PostgreSQL
	// only); 0 or less leaves the session's setting alone.
	StatementTimeout time.Duration
	// Retries is the number of extra attempts after a lock timeout: 0
	// means DefaultRetries, a negative value means none.
	Retries int
	// Backoff is the first wait between attempts, doubled after each one
	// up to MaxBackoff; 0 means DefaultBackoff.
	Backoff time.Duration
	// Logf, if set, is told about each attempt that timed out and the
	// wait before the next.
	Logf func(format string, args ...any)
}

func (o DDLOptions) lockTimeout() time.Duration {
	if o.LockTimeout == 0 {
		return DefaultLockTimeout
	}
	return o.LockTimeout
}

func (o DDLOptions) retries() int {
	switch {
	case o.Retries == 0:
		return DefaultRetries
	case o.Retries < 0:
		return 0
	}
	return o.Retries
}

func (o DDLOptions) backoff() time.Duration {
	if o.Backoff <= 0 {
		return DefaultBackoff
	}
	return o.Backoff
}

// SetSessionTimeouts applies o's timeouts to the session of conn, which
// should be bound to one connection (see Acquire); on a pool it reaches only
// whichever connection runs it. The settings stay for the rest of the
// session. Per dialect:
//
//   - PostgreSQL: lock_timeout and statement_timeout, set with set_config
//     for the session (not only the current transaction).
//   - MySQL/MariaDB: lock_wait_timeout, the wait for metadata locks that
//     DDL takes, in whole seconds rounded up (at least 1). StatementTimeout
//     is not applied: MySQL's max_execution_time covers SELECT only and
//     MariaDB spells it max_statement_time.
//   - SQLite: nothing. Writers wait for the database lock according to
//     busy_timeout, and a runner holding the lock from Acquire never waits.
func SetSessionTimeouts(ctx context.Context, conn *gorm.DB, o DDLOptions) error {
	db := conn.WithContext(ctx)
	lt := o.lockTimeout()
	switch dialect.Of(conn) {
	case dialect.Postgres:
		if lt > 0 {
			if err := db.Exec("SELECT set_config('lock_timeout', ?, false)", millis(lt)).Error; err != nil {
				return fmt.Errorf("set lock_timeout: %w", err)
			}
		}
		if o.StatementTimeout > 0 {
			if err := db.Exec("SELECT set_config('statement_timeout', ?, false)", millis(o.StatementTimeout)).Error; err != nil {
				return fmt.Errorf("set statement_timeout: %w", err)
			}
		}
	case dialect.MySQL:
		if lt > 0 {
			secs := int64(math.Ceil(lt.Seconds()))
			if err := db.Exec("SET SESSION lock_wait_timeout = ?", secs).Error; err != nil {
				return fmt.Errorf("set lock_wait_timeout: %w", err)
			}
		}
	}
	return nil
}

// saveTimeouts reads the settings SetSessionTimeouts changes on conn's
// session and returns a func that puts them back.
func saveTimeouts(ctx context.Context, conn *gorm.DB) (restore func(context.Context) error, err error) {
	db := conn.WithContext(ctx)
	switch dialect.Of(conn) {
	case dialect.Postgres:
		var lock, stmt string
		err := db.Raw("SELECT current_setting('lock_timeout'), current_setting('statement_timeout')").Row().Scan(&lock, &stmt)
		if err != nil {
			return nil, fmt.Errorf("read lock_timeout: %w", err)
		}
		return func(ctx context.Context) error {
			return conn.WithContext(ctx).Exec("SELECT set_config('lock_timeout', ?, false), set_config('statement_timeout', ?, false)", lock, stmt).Error
		}, nil
	case dialect.MySQL:
		var secs int64
		if err := db.Raw("SELECT @@SESSION.lock_wait_timeout").Row().Scan(&secs); err != nil {
			return nil, fmt.Errorf("read lock_wait_timeout: %w", err)
		}
		return func(ctx context.Context) error {
			return conn.WithContext(ctx).Exec("SET SESSION lock_wait_timeout = ?", secs).Error
		}, nil
	}
	return func(context.Context) error { return nil }, nil
}

// millis renders d as a PostgreSQL duration setting in milliseconds,
// rounding up so that a positive d never becomes 0 (which means no limit).
func millis(d time.Duration) string {
	ms := (d + time.Millisecond - 1) / time.Millisecond
	return strconv.FormatInt(int64(ms), 10) + "ms"
}

// RetryDDL sets o's timeouts on conn's session (SetSessionTimeouts), runs
// fn, and puts the session's own timeouts back when it is done. fn runs
// one statement or one whole migration transaction on conn.
// When fn fails with a lock timeout (IsLockTimeout), RetryDDL waits, with a
// doubling backoff, and runs it again, up to o.Retries more times; any other
// outcome of fn is returned as it is. When the last attempt times out it
// returns a *DDLBlockedError naming the sessions that held the lock.
//
// On PostgreSQL, while fn runs, a second connection from conn's pool watches
// pg_blocking_pids of conn's backend, so the blockers named are the ones
// that made the statement wait. When the watch saw none (no pool connection
// was free, or the wait was too short to see), the sessions of this database
// whose open transaction holds a lock on a table are named instead. On
// MySQL the sessions named are those with an open InnoDB transaction in the
// same database. SQLite names none.
func RetryDDL(ctx context.Context, conn *gorm.DB, o DDLOptions, fn func(ctx context.Context) error) (err error) {
	restore, err := saveTimeouts(ctx, conn)
	if err != nil {
		return err
	}
	defer func() {
		// Put back even when ctx has ended. A session left in a failed
		// transaction cannot; its own error then says more.
		if rerr := restore(context.WithoutCancel(ctx)); rerr != nil && err == nil {
			err = fmt.Errorf("restore the session's lock timeouts: %w", rerr)
		}
	}()
	if err := SetSessionTimeouts(ctx, conn, o); err != nil {
		return err
	}
	return NewRetrier(ctx, conn, o).Run(ctx, fn)
}

// Retrier runs a function again after lock timeouts, as RetryDDL does, on
// a session whose timeouts its caller has set (SetSessionTimeouts) for
// many runs: it neither reads nor changes them, and it finds conn's backend
// once. An attempt that ends within the blocker watch's first delay (a
// fifth of the lock timeout, from 10 ms to 500 ms) then costs fn's own
// statements and nothing else; a longer one also has the blockers read on
// a second connection. The backfill runs each of its batches with one.
type Retrier struct {
	o DDLOptions
	f *blockerFinder
}

// NewRetrier returns a Retrier for fns that run on conn, which should be
// bound to one connection, with o's retries, backoff and logging.
func NewRetrier(ctx context.Context, conn *gorm.DB, o DDLOptions) *Retrier {
	return &Retrier{o: o, f: newBlockerFinder(ctx, conn, o.lockTimeout())}
}

// Run runs fn, and again after each lock timeout, as RetryDDL does.
func (r *Retrier) Run(ctx context.Context, fn func(ctx context.Context) error) error {
	o, f := r.o, r.f
	retries, wait := o.retries(), o.backoff()
	for attempt := 1; ; attempt++ {
		stop := f.watch(ctx)
		err := fn(ctx)
		seen := stop()
		if err == nil || !IsLockTimeout(err) {
			return err
		}
		blockers := seen
		if len(blockers) == 0 {
			blockers = f.lookup(ctx)
		}
		if attempt > retries {
			return &DDLBlockedError{Attempts: attempt, Blockers: blockers, Err: err}
		}
		if o.Logf != nil {
			who := "a lock held by another session"
			if len(blockers) > 0 {
				parts := make([]string, len(blockers))
				for i, b := range blockers {
					parts[i] = b.String()
				}
				who = strings.Join(parts, "; ")
			}
			o.Logf("DDL attempt %d of %d timed out waiting for its lock, blocked by %s; retrying in %s",
				attempt, retries+1, who, wait)
		}
		if serr := sleep(ctx, wait); serr != nil {
			return fmt.Errorf("wait to retry DDL: %w; %w", serr, &DDLBlockedError{Attempts: attempt, Blockers: blockers, Err: err})
		}
		wait = min(wait*2, MaxBackoff)
	}
}
