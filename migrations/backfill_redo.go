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

// RedoOff as BackfillOptions.RedoLimit turns the redo limit off, even
// while other sessions are busy.
const RedoOff = -1

// The automatic redo limit (BackfillOptions.RedoLimit 0): on MariaDB the
// backfill samples how many statements the server's other sessions run,
// and while they run at least autoBusy a second, each batch waits until
// InnoDB's redo not yet checkpointed is under autoRedoLimit of the most it
// holds. Alone on the server the backfill runs at full speed.
const (
	autoRedoLimit = 0.5
	autoBusy      = 20.0                   // statements a second by other sessions
	autoSample    = 250 * time.Millisecond // the shortest window a rate is taken over
	autoHold      = 5 * time.Second        // how long quiet must last before the limit lifts
)

// maxRedoWait bounds how long one batch waits for the server's redo: an
// idle InnoDB stops flushing for it below 10% of the log, and a busy one
// may not get under the limit at all, so the backfill goes on after that.
const maxRedoWait = 10 * time.Second

// checkRedoLimit refuses a BackfillOptions.RedoLimit other than 0 (auto),
// RedoOff or a share from 0.2 to 0.9.
func checkRedoLimit(l float64) error {
	if l == 0 || l == RedoOff {
		return nil
	}
	if math.IsNaN(l) || l < 0.2 || l > 0.9 {
		return fmt.Errorf("migrations: redo limit %v: want a share of InnoDB's redo from 0.2 to 0.9, e.g. 0.5, "+
			"0 (the default: %v while other sessions are busy) or RedoOff", l, autoRedoLimit)
	}
	return nil
}

// redoThrottle makes backfill batches wait for InnoDB's redo: always at a
// fixed limit, or in auto mode only while other sessions are busy.
type redoThrottle struct {
	on    bool
	auto  bool
	limit float64
	poll  time.Duration
	logf  func(string, ...any)

	// auto mode: the last sample of the statement counters, and whether
	// the other sessions are busy.
	sampled         time.Time
	global, session int64
	load            busyState
}

// redoThrottle returns the throttle for limit on db: off for RedoOff; for a
// fixed limit, with a log line (once per runner), off where the server does
// not report its checkpoint age (PostgreSQL, SQLite, MySQL 8); for 0 (auto),
// silently off on PostgreSQL and SQLite.
func (r *Runner) redoThrottle(ctx context.Context, db *gorm.DB, limit float64) *redoThrottle {
	if limit == RedoOff {
		return &redoThrottle{}
	}
	auto := limit == 0
	name := fmt.Sprint(limit)
	if auto {
		name, limit = "auto", autoRedoLimit
	}
	note := func(f string, a ...any) {
		if !r.redoNoted {
			r.redoNoted = true
			r.logf(f, a...)
		}
	}
	if r.dialect != dialect.MySQL {
		if !auto {
			note("redo limit %s: only MariaDB reports its redo checkpoint age; ignored on %s", name, r.dialect)
		}
		return &redoThrottle{}
	}
	if _, _, ok, err := checkpointAge(ctx, db); err != nil || !ok {
		why := "the server reports no Innodb_checkpoint_age (MariaDB does, MySQL 8 does not)"
		if err != nil {
			why = err.Error()
		}
		note("redo limit %s: %s; ignored", name, why)
		return &redoThrottle{}
	}
	t := &redoThrottle{on: true, auto: auto, limit: limit, poll: 20 * time.Millisecond, logf: r.logf}
	if auto {
		var err error
		if t.global, t.session, err = statements(ctx, db); err != nil {
			note("redo limit auto: %v; off", err)
			return &redoThrottle{}
		}
		t.sampled = time.Now()
	}
	return t
}

// beforeBatch waits, if the throttle says so, before the next batch, and
// says how long it slept.
func (t *redoThrottle) beforeBatch(ctx context.Context, db *gorm.DB) (time.Duration, error) {
	if !t.on {
		return 0, nil
	}
	if t.auto {
		t.sample(ctx, db)
		if !t.load.busy {
			return 0, nil
		}
	}
	return t.wait(ctx, db, t.limit, maxRedoWait)
}

// sample updates, at most every autoSample, whether the server's other
// sessions are busy, from the statements the server ran (Questions) less
// those of this session, and logs when that changes. A failing status
// query turns the throttle off, with a log line.
func (t *redoThrottle) sample(ctx context.Context, db *gorm.DB) {
	now := time.Now()
	el := now.Sub(t.sampled)
	if el < autoSample {
		return
	}
	g, s, err := statements(ctx, db)
	if err != nil {
		if ctx.Err() == nil {
			t.on = false
			t.logf("redo limit auto: %v; the backfill goes on without the limit", err)
		}
		return
	}
	rate := float64((g-t.global)-(s-t.session)) / el.Seconds()
	t.global, t.session, t.sampled = g, s, now
	t.observe(rate, now)
}

// observe records that other sessions ran rate statements a second up to
// now: the limit applies from the first busy sample until autoHold of
// quiet ones.
func (t *redoThrottle) observe(rate float64, now time.Time) {
	switch t.load.observe(rate >= autoBusy, now) {
	case 1:
		t.logf("redo limit auto: other sessions run %.0f statements/s; each batch now waits while InnoDB's redo not yet checkpointed is above %v of its maximum (--redo-limit off: never)", rate, t.limit)
	case -1:
		t.logf("redo limit auto: other sessions have run under %.0f statements/s for %s; batches no longer wait for InnoDB's redo", autoBusy, autoHold)
	}
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

// statements reads how many statements the server and this session (db
// must be one connection) have run: MySQL's and MariaDB's Questions.
func statements(ctx context.Context, db *gorm.DB) (global, session int64, err error) {
	var g, s sql.NullInt64
	err = db.WithContext(ctx).Raw("SELECT "+
		"(SELECT CAST(VARIABLE_VALUE AS SIGNED) FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'QUESTIONS'), "+
		"(SELECT CAST(VARIABLE_VALUE AS SIGNED) FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'QUESTIONS')").
		Row().Scan(&g, &s)
	if err == nil && !(g.Valid && s.Valid) {
		err = fmt.Errorf("the server reports no Questions status")
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read the server's statement counts: %w", err)
	}
	return g.Int64, s.Int64, nil
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
