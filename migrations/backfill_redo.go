package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
)

// maxRedoWait bounds how long one batch waits for the server's redo: an
// idle InnoDB stops flushing for it below 10% of the log, and a busy one
// may not get under the limit at all, so the backfill goes on after that.
const maxRedoWait = 10 * time.Second

// checkRedoLimit refuses a BackfillOptions.RedoLimit outside 0 or [0.2, 0.9].
func checkRedoLimit(l float64) error {
	if l == 0 {
		return nil
	}
	if math.IsNaN(l) || l < 0.2 || l > 0.9 {
		return fmt.Errorf("migrations: redo limit %v: want 0 (off) or a share of InnoDB's redo from 0.2 to 0.9, e.g. 0.5", l)
	}
	return nil
}

// redoThrottle makes backfill batches wait for InnoDB's redo.
type redoThrottle struct {
	on   bool
	poll time.Duration
	logf func(string, ...any)
}

// redoThrottle returns the throttle for limit on db: off when limit is 0,
// and, with a log line (once per runner), when the server does not report
// its checkpoint age (PostgreSQL, SQLite, MySQL 8).
func (r *Runner) redoThrottle(ctx context.Context, db *gorm.DB, limit float64) *redoThrottle {
	if limit <= 0 {
		return &redoThrottle{}
	}
	note := func(f string, a ...any) {
		if !r.redoNoted {
			r.redoNoted = true
			r.logf(f, a...)
		}
	}
	if r.dialect != dialect.MySQL {
		note("redo limit %v: only MariaDB reports its redo checkpoint age; ignored on %s", limit, r.dialect)
		return &redoThrottle{}
	}
	if _, _, ok, err := checkpointAge(ctx, db); err != nil || !ok {
		why := "the server reports no Innodb_checkpoint_age (MariaDB does, MySQL 8 does not)"
		if err != nil {
			why = err.Error()
		}
		note("redo limit %v: %s; ignored", limit, why)
		return &redoThrottle{}
	}
	return &redoThrottle{on: true, poll: 20 * time.Millisecond, logf: r.logf}
}

// wait returns once the redo not yet checkpointed is under limit of the
// most InnoDB holds, or after max, and says how long it slept (0 if it did
// not). A failing status query turns the throttle off, with a log line: it
// is a courtesy to the service, not a reason to stop the backfill. Only a
// cancelled ctx is an error.
func (t *redoThrottle) wait(ctx context.Context, db *gorm.DB, limit float64, max time.Duration) (time.Duration, error) {
	var slept time.Duration
	for t.on {
		age, maxAge, ok, err := checkpointAge(ctx, db)
		if ctx.Err() != nil {
			return slept, ctx.Err()
		}
		if err != nil || !ok {
			t.on = false
			if t.logf != nil {
				t.logf("redo limit: InnoDB's checkpoint age is no longer readable (%v); the backfill goes on without the limit", err)
			}
			break
		}
		if float64(age) <= limit*float64(maxAge) || slept >= max {
			break
		}
		t0 := time.Now()
		sleep(ctx, t.poll)
		slept += time.Since(t0)
		if ctx.Err() != nil {
			return slept, ctx.Err()
		}
	}
	return slept, nil
}

// checkpointAge reads MariaDB's Innodb_checkpoint_age and
// Innodb_checkpoint_max_age; ok is false when the server has no such
// status variables.
func checkpointAge(ctx context.Context, db *gorm.DB) (age, maxAge int64, ok bool, err error) {
	var a, m sql.NullInt64
	err = db.WithContext(ctx).Raw("SELECT "+
		"MAX(CASE WHEN VARIABLE_NAME = 'INNODB_CHECKPOINT_AGE' THEN CAST(VARIABLE_VALUE AS SIGNED) END), "+
		"MAX(CASE WHEN VARIABLE_NAME = 'INNODB_CHECKPOINT_MAX_AGE' THEN CAST(VARIABLE_VALUE AS SIGNED) END) "+
		"FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME IN ('INNODB_CHECKPOINT_AGE', 'INNODB_CHECKPOINT_MAX_AGE')").
		Row().Scan(&a, &m)
	if err != nil {
		return 0, 0, false, fmt.Errorf("read InnoDB's checkpoint age: %w", err)
	}
	return a.Int64, m.Int64, a.Valid && m.Valid && m.Int64 > 0, nil
}
