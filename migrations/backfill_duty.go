package migrations

import (
	"context"
	"fmt"
	"math"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
)

// DutyOff as BackfillOptions.Duty: the backfill never pauses for the
// service (the same as 1).
const DutyOff = 1

// autoDuty is the share of the time the backfill works, on PostgreSQL,
// while other sessions are busy (BackfillOptions.Duty 0, auto).
const autoDuty = 0.5

// checkDuty refuses a BackfillOptions.Duty other than 0 (auto), 1 (off) or
// a share from 0.1 to 0.9.
func checkDuty(d float64) error {
	if d == 0 || d == DutyOff {
		return nil
	}
	if math.IsNaN(d) || d < 0.1 || d > 0.9 {
		return fmt.Errorf("migrations: duty %v: want the share of the time the backfill works, from 0.1 to 0.9, e.g. 0.5, "+
			"0 (the default: %v on PostgreSQL while other sessions are busy) or 1 (DutyOff)", d, autoDuty)
	}
	return nil
}

// dutyPacer pauses after each batch so that the backfill works only a
// share of the time: always at a fixed share, or in auto mode (PostgreSQL)
// only while other sessions are busy.
type dutyPacer struct {
	on    bool
	auto  bool
	share float64
	logf  func(string, ...any)

	sampled time.Time
	load    busyState
}

// dutyPacer returns the pacer for duty on db: off for 1; a fixed share on
// every dialect; auto on PostgreSQL only (MariaDB's --redo-limit auto
// already holds the backfill to InnoDB's pace, and an embedded SQLite has
// no other sessions to see).
func (r *Runner) dutyPacer(ctx context.Context, db *gorm.DB, duty float64) *dutyPacer {
	switch {
	case duty == DutyOff:
		return &dutyPacer{}
	case duty != 0:
		return &dutyPacer{on: true, share: duty}
	case r.dialect != dialect.Postgres:
		return &dutyPacer{}
	}
	if _, err := otherSessions(ctx, db); err != nil {
		r.logf("duty auto: %v; off", err)
		return &dutyPacer{}
	}
	return &dutyPacer{on: true, auto: true, share: autoDuty, logf: r.logf, sampled: time.Now()}
}

// pause is how long to pause after a batch that took el, 0 when the pacer
// is off or, in auto mode, while the other sessions are quiet.
func (p *dutyPacer) pause(ctx context.Context, db *gorm.DB, el time.Duration) time.Duration {
	if !p.on {
		return 0
	}
	if p.auto {
		p.sample(ctx, db)
		if !p.load.busy {
			return 0
		}
	}
	return time.Duration(float64(el) * (1 - p.share) / p.share)
}

// sample updates, at most every autoSample, whether other client sessions
// of the server are busy: any that is running a statement or finished one
// within the last second. A failing query turns the pacer off, with a log
// line.
func (p *dutyPacer) sample(ctx context.Context, db *gorm.DB) {
	now := time.Now()
	if now.Sub(p.sampled) < autoSample {
		return
	}
	n, err := otherSessions(ctx, db)
	if err != nil {
		if ctx.Err() == nil {
			p.on = false
			p.logf("duty auto: %v; the backfill goes on without pauses", err)
		}
		return
	}
	p.sampled = now
	switch p.load.observe(n > 0, now) {
	case 1:
		p.logf("duty auto: %d other sessions ran statements in the last second; after each batch the backfill now pauses as long as the batch took (--duty off: never)", n)
	case -1:
		p.logf("duty auto: no other session has run a statement for %s; the backfill no longer pauses", autoHold)
	}
}

// otherSessions counts PostgreSQL's client sessions other than this one
// that are running a statement or finished one within the last second.
// Sessions of other roles count only where this role may see their state
// (pg_read_all_stats, or a superuser).
func otherSessions(ctx context.Context, db *gorm.DB) (int64, error) {
	var n int64
	err := db.WithContext(ctx).Raw("SELECT COUNT(*) FROM pg_stat_activity WHERE backend_type = 'client backend' " +
		"AND pid <> pg_backend_pid() AND (state = 'active' OR state_change > clock_timestamp() - INTERVAL '1 second')").
		Row().Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("read the server's other sessions: %w", err)
	}
	return n, nil
}

// busyState is whether the server's other sessions are busy: from the
// first busy sample until autoHold of quiet ones.
type busyState struct {
	busy     bool
	lastBusy time.Time
}

// observe records a sample taken at now and returns 1 when the state
// turned busy, -1 when it turned quiet, 0 otherwise.
func (b *busyState) observe(busy bool, now time.Time) int {
	switch {
	case busy:
		was := b.busy
		b.busy, b.lastBusy = true, now
		if !was {
			return 1
		}
	case b.busy && now.Sub(b.lastBusy) >= autoHold:
		b.busy = false
		return -1
	}
	return 0
}
