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

// DutyOff as BackfillOptions.Duty: the backfill never pauses for the
// service, even while other sessions are busy.
const DutyOff = 1

// The automatic duty (BackfillOptions.Duty 0): on PostgreSQL the backfill
// samples how many transactions the database's other sessions end, and
// while they end at least autoDutyBusy a second it works autoDuty of the
// time. Alone in the database the backfill runs at full speed.
const (
	autoDuty       = 0.2
	autoDutyBusy   = 50.0            // transactions a second by other sessions
	autoDutySample = 2 * time.Second // a working session publishes its counts up to 1s late
)

// checkDuty refuses a BackfillOptions.Duty other than 0 (auto), 1 (off) or
// a share from 0.1 to 0.9.
func checkDuty(d float64) error {
	if d == 0 || d == DutyOff {
		return nil
	}
	if math.IsNaN(d) || d < 0.1 || d > 0.9 {
		return fmt.Errorf("migrations: duty %v: want the share of the time the backfill works, from 0.1 to 0.9, e.g. 0.5, "+
			"0 (the default: %v while other sessions are busy, on PostgreSQL) or DutyOff (never pause)", d, autoDuty)
	}
	return nil
}

// dutyPause is how long to pause after a batch that took el so that the
// backfill works duty's share of the time: 0 when duty is 0 or DutyOff.
func dutyPause(duty float64, el time.Duration) time.Duration {
	if duty == 0 || duty == DutyOff {
		return 0
	}
	return time.Duration(float64(el) * (1 - duty) / duty)
}

// dutyGovernor decides the pause after each batch: a fixed duty, or in
// auto mode autoDuty while the database's other sessions are busy.
type dutyGovernor struct {
	duty float64 // the fixed share; unused in auto mode
	auto bool
	logf func(string, ...any)

	// auto mode: the last sample of the database's transaction count, the
	// transactions this session ended since, whether the server has
	// pg_stat_force_next_flush, and whether the other sessions are busy.
	sampled time.Time
	xacts   int64
	own     int64
	flush   bool
	load    busyState
}

// dutyGovernor returns the governor for duty on db, which must be the one
// connection the backfill runs on: a fixed share everywhere; for 0 (auto)
// sampling on PostgreSQL, from the first restart on, and off, silently, on
// the other dialects, or with a log line when the server's version (here)
// or its statistics (at restart or a sample) cannot be read.
func (r *Runner) dutyGovernor(ctx context.Context, db *gorm.DB, duty float64) *dutyGovernor {
	if duty != 0 {
		return &dutyGovernor{duty: duty}
	}
	if r.dialect != dialect.Postgres {
		return &dutyGovernor{}
	}
	g := &dutyGovernor{auto: true, logf: r.logf}
	var version int
	if err := db.WithContext(ctx).Raw("SELECT current_setting('server_version_num')::int").Row().Scan(&version); err != nil {
		r.logf("duty auto: %v; off", err)
		return &dutyGovernor{}
	}
	// Since PostgreSQL 15 a session can publish its own counts at once, so
	// that what it subtracts is exact; before, its own counts reach the
	// statistics up to half a second late, and a window may take some of
	// them for the others'.
	g.flush = version >= 150000
	return g // each table's backfill begins its window (restart)
}

// restart begins a new window at the start of a table's backfill. What
// this session ran since the last reading (the end of the previous table,
// the counts that start this one) is left out rather than counted one by
// one; whether the other sessions are busy carries over, so a table's
// first autoDutySample follows what the previous table found.
func (g *dutyGovernor) restart(ctx context.Context, db *gorm.DB) {
	if !g.auto {
		return
	}
	x, err := g.transactions(ctx, db)
	if err != nil {
		g.fail(ctx, err)
		return
	}
	g.xacts, g.own, g.sampled = x, 0, time.Now()
}

// fail turns auto mode off after a failing reading, with a log line,
// unless ctx has ended (the backfill is stopping anyway).
func (g *dutyGovernor) fail(ctx context.Context, err error) {
	if ctx.Err() == nil {
		g.auto, g.load.busy = false, false
		g.logf("duty auto: %v; the backfill goes on without pauses", err)
	}
}

// ended records that this session ended n transactions (a batch and its
// retries): they are not the service's.
func (g *dutyGovernor) ended(n int) {
	g.own += int64(n)
}

// pause returns how long to pause after a batch that took el, sampling the
// other sessions first in auto mode.
func (g *dutyGovernor) pause(ctx context.Context, db *gorm.DB, el time.Duration) time.Duration {
	if !g.auto {
		return dutyPause(g.duty, el)
	}
	g.sample(ctx, db)
	if !g.load.busy {
		return 0
	}
	return dutyPause(autoDuty, el)
}

// sample updates, at most every autoDutySample, whether the database's
// other sessions are busy, from the transactions it ended less this
// session's, and logs when that changes; it returns how many transactions
// the others ended since the last sample, and whether it took one. A
// failing query turns auto mode off, with a log line.
func (g *dutyGovernor) sample(ctx context.Context, db *gorm.DB) (others int64, ok bool) {
	now := time.Now()
	el := now.Sub(g.sampled)
	if el < autoDutySample {
		return 0, false
	}
	x, err := g.transactions(ctx, db)
	if err != nil {
		g.fail(ctx, err)
		return 0, false
	}
	// Between two readings this session ended the previous reading, its
	// batches, and the flush before this reading (see transactions).
	own := g.own + 1
	if g.flush {
		own++
	}
	others = x - g.xacts - own
	rate := float64(others) / el.Seconds()
	g.xacts, g.own, g.sampled = x, 0, now
	g.observe(rate, now)
	return others, true
}

// observe records that other sessions ended rate transactions a second up
// to now: the duty applies from the first busy sample until autoHold of
// quiet ones.
func (g *dutyGovernor) observe(rate float64, now time.Time) {
	switch g.load.observe(rate >= autoDutyBusy, now) {
	case 1:
		g.logf("duty auto: other sessions end %.0f transactions/s; the backfill now works %.0f%% of the time and pauses between batches (--duty off: never)", rate, 100*autoDuty)
	case -1:
		g.logf("duty auto: other sessions have ended under %.0f transactions/s for %s; the backfill no longer pauses", autoDutyBusy, autoHold)
	}
}

// transactions reads how many transactions the current database has ended
// (committed or rolled back), first publishing this session's own counts
// where the server can.
func (g *dutyGovernor) transactions(ctx context.Context, db *gorm.DB) (int64, error) {
	if g.flush {
		if err := db.WithContext(ctx).Exec("SELECT pg_stat_force_next_flush()").Error; err != nil {
			return 0, fmt.Errorf("publish the session's statistics: %w", err)
		}
	}
	var n sql.NullInt64
	err := db.WithContext(ctx).Raw("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()").Row().Scan(&n)
	if err == nil && !n.Valid {
		err = fmt.Errorf("pg_stat_database has no row for the current database")
	}
	if err != nil {
		return 0, fmt.Errorf("read the database's transaction count: %w", err)
	}
	return n.Int64, nil
}
