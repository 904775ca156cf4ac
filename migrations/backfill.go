package migrations

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dblock"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

// BackfillOptions tunes the backfill of the migrate phase.
type BackfillOptions struct {
	BatchSize   int           // first batch size (default 500); it adapts to TargetBatch
	TargetBatch time.Duration // aimed duration of one batch (default 100ms)
	MaxRows     int64         // stop after this many rows (0: no limit); the run returns ErrMoreWork
	RateLimit   float64       // at most this many rows per second (0: no limit)
	Pause       time.Duration // pause between batches
	MaxPasses   int           // passes over a table, to retry rows changed meanwhile (default 3)
	// RedoLimit, on MariaDB, makes each batch wait (at most 10s) while the
	// redo InnoDB has not yet checkpointed is above this share of the most
	// it can hold (Innodb_checkpoint_age over Innodb_checkpoint_max_age):
	// a backfill that fills the redo log drives InnoDB into flushing pages
	// in the foreground, which stalls every writer of the service. A share
	// from 0.2 to 0.9 applies always; other servers ignore it, with a log
	// line. 0 (the default) is auto: a limit of 0.5 that applies only while
	// the server's other sessions run at least 20 statements a second, so
	// that a backfill alone on the server runs at full speed; PostgreSQL
	// and SQLite ignore it silently. RedoOff turns it off.
	RedoLimit float64
	// Duty is the share of the time the backfill works: after a batch that
	// took t it pauses t*(1-Duty)/Duty, so that the service's statements
	// find the server's cores and disks free more often. A share from 0.1
	// to 0.9 applies on every dialect. 0 (the default) is auto: on
	// PostgreSQL a share of 0.2 that applies only while the database's
	// other sessions end at least 50 transactions a second, so that a
	// backfill alone runs at full speed; MariaDB and SQLite do not pause
	// (MariaDB has RedoLimit). DutyOff (1) never pauses.
	Duty     float64
	Progress func(Progress)
}

// Progress reports a table's backfill after each batch.
type Progress struct {
	Release   string        `json:"release"`
	Table     string        `json:"table"`
	Kind      string        `json:"kind"`
	Done      int64         `json:"done"`
	Estimated int64         `json:"estimated"` // rows to do when the table started
	Conflicts int64         `json:"conflicts"` // rows changed by others meanwhile, retried
	Rate      float64       `json:"rows_per_second"`
	ETA       time.Duration `json:"eta_ns"`
	Finished  bool          `json:"finished"`
}

// BackfillResult is what the backfill did to one table.
type BackfillResult struct {
	Table     string `json:"table"`
	Kind      string `json:"kind"`
	Rows      int64  `json:"rows"`
	Conflicts int64  `json:"conflicts"`
	Batches   int64  `json:"batches"`
	Remaining int64  `json:"remaining"` // stale rows left (written by older instances meanwhile)
	// ThrottledMS is how long the batches waited for the server's redo
	// (BackfillOptions.RedoLimit), in milliseconds.
	ThrottledMS int64 `json:"throttled_ms"`
	// PausedMS is how long the backfill paused after its batches for the
	// service (BackfillOptions.Duty), in milliseconds.
	PausedMS int64 `json:"paused_ms"`
}

// Backfill kinds.
const (
	BackfillConvert = "convert" // the model's converters, in Go
	BackfillSQL     = "sql"     // SET expressions from a migrate file
	BackfillRestamp = "restamp" // the table's shape did not change: only the stamp moves
)

// runBackfill converts every stale row of every versioned table towards
// target, in keyset batches of short transactions on one connection.
func (r *Runner) runBackfill(ctx context.Context, target versions.Version) ([]BackfillResult, error) {
	var results []BackfillResult
	err := r.db.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		if r.dialect != dialect.SQLite {
			// One backfill at a time; a session lock, so writers are not blocked.
			lock, err := dblock.Acquire(ctx, conn, dblock.Options{Key: LockKey + "-backfill", Timeout: r.lockTimeout, Logf: r.logf})
			if err != nil {
				return err
			}
			defer func() { _ = lock.Release(context.WithoutCancel(ctx)) }()
			conn = lock.DB()
		}
		if err := dblock.SetSessionTimeouts(ctx, conn, r.ddl); err != nil {
			return err
		}
		defer func() { _ = r.resetSessionTimeouts(context.WithoutCancel(ctx), conn) }()
		v, err := r.readView(ctx, conn, target)
		if err != nil {
			return err
		}
		jobs, err := r.jobs(ctx, conn, v, target)
		if err != nil {
			return err
		}
		budget := r.backfill.MaxRows
		// One governor for every table, so that a busy service found
		// during one table's backfill keeps the next one paced.
		duty := r.dutyGovernor(ctx, conn, r.backfill.Duty)
		for _, j := range jobs {
			res, err := r.runJob(ctx, conn, j, duty, &budget)
			results = append(results, res)
			if err != nil {
				return err
			}
		}
		return nil
	})
	return results, err
}

func (r *Runner) runJob(ctx context.Context, db *gorm.DB, j job, duty *dutyGovernor, budget *int64) (BackfillResult, error) {
	res := BackfillResult{Table: j.table.Table, Kind: j.kind}
	o := r.backfill
	size := o.BatchSize
	if size <= 0 {
		size = 500
	}
	target := o.TargetBatch
	if target <= 0 {
		target = 100 * time.Millisecond
	}
	passes := o.MaxPasses
	if passes <= 0 {
		passes = 3
	}
	maxSize := j.maxBatch()
	if j.kind == BackfillConvert {
		var err error
		if j.casTypes, err = r.casColumns(ctx, db, j); err != nil {
			return res, fmt.Errorf("migrations: backfill of %s: %w", j.table.Table, err)
		}
	}
	size = min(size, maxSize)
	st, err := store.LoadBackfill(ctx, db, j.target.String(), j.table.Table)
	if err != nil {
		return res, err
	}
	now := store.Now()
	if st == nil || st.Status == "done" || st.Kind != j.kind {
		st = &store.Backfill{Release: j.target.String(), Table: j.table.Table, Kind: j.kind, Status: "running", StartedAt: now}
	}
	estimated, err := r.staleCount(ctx, db, j)
	if err != nil {
		return res, err
	}
	redo := r.redoThrottle(ctx, db, o.RedoLimit)
	// runBackfill has set the session's timeouts for all the batches.
	retry := dblock.NewRetrier(ctx, db, r.ddl)
	// What this session ran since the last table's batches is not counted
	// one by one: the window starts again here.
	duty.restart(ctx, db)
	var paused time.Duration
	started := time.Now()
	report := func(finished bool) {
		if o.Progress == nil {
			return
		}
		p := Progress{Release: j.target.String(), Table: j.table.Table, Kind: j.kind, Done: res.Rows, Estimated: estimated, Conflicts: res.Conflicts, Finished: finished}
		if el := time.Since(started).Seconds(); el > 0 {
			p.Rate = float64(res.Rows) / el
			if p.Rate > 0 && estimated > res.Rows {
				p.ETA = time.Duration(float64(estimated-res.Rows) / p.Rate * float64(time.Second))
			}
		}
		o.Progress(p)
	}
	for ; st.Pass < passes; st.Pass++ {
		passConflicts := int64(0)
		for {
			if *budget < 0 || (o.MaxRows > 0 && *budget == 0) {
				// Out of rows: more work remains unless this pass is over
				// and needs no other.
				rest, err := r.nextKeys(ctx, db, j, st.Cursor, 1)
				if err != nil {
					return res, fmt.Errorf("migrations: backfill of %s: %w", j.table.Table, err)
				}
				if len(rest) > 0 || passConflicts > 0 {
					report(false)
					return res, fmt.Errorf("%w: --max-rows reached during %s; run migrate again to go on", ErrMoreWork, j.table.Table)
				}
				break
			}
			n := size
			if o.MaxRows > 0 && int64(n) > *budget {
				n = int(*budget)
			}
			if redo.on {
				w, err := redo.beforeBatch(ctx, db)
				if err != nil {
					return res, fmt.Errorf("migrations: backfill of %s: %w", j.table.Table, err)
				}
				res.ThrottledMS += w.Milliseconds()
			}
			t0 := time.Now()
			var done, conflicts int
			var more bool
			err := retry.Run(ctx, func(ctx context.Context) error {
				duty.ended(1)
				return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
					var err error
					done, conflicts, more, err = r.batch(ctx, tx, j, st, n)
					if err != nil {
						return err
					}
					st.RowsDone += int64(done)
					st.Conflicts += int64(conflicts)
					st.Batches++
					st.BatchSize = n
					st.UpdatedAt = store.Now()
					return store.SaveBackfill(ctx, tx, st)
				})
			})
			if err != nil {
				return res, fmt.Errorf("migrations: backfill of %s: %w", j.table.Table, err)
			}
			res.Rows += int64(done)
			res.Conflicts += int64(conflicts)
			res.Batches++
			passConflicts += int64(conflicts)
			if o.MaxRows > 0 {
				*budget -= int64(done + conflicts)
			}
			report(false)
			if !more {
				break
			}
			el := time.Since(t0)
			if el > 0 {
				next := int(float64(size)*0.5 + float64(size)*0.5*float64(target)/float64(el))
				size = max(10, min(next, maxSize))
			}
			if o.RateLimit > 0 {
				if min := time.Duration(float64(done+conflicts) / o.RateLimit * float64(time.Second)); min > el {
					sleep(ctx, min-el)
				}
			}
			if d := duty.pause(ctx, db, el); d > 0 {
				sleep(ctx, d)
				paused += d
				res.PausedMS = paused.Milliseconds()
			}
			if o.Pause > 0 {
				sleep(ctx, o.Pause)
			}
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
		}
		st.Cursor = ""
		if passConflicts == 0 {
			break
		}
	}
	st.Status = "done"
	st.UpdatedAt = store.Now()
	if err := store.SaveBackfill(ctx, db, st); err != nil {
		return res, err
	}
	rem, err := r.staleCount(ctx, db, j)
	if err != nil {
		return res, err
	}
	res.Remaining = rem
	report(true)
	return res, nil
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// maxBatch keeps one batch's statement under every dialect's limit of
// bound values.
func (j job) maxBatch() int {
	per := len(j.table.PrimaryKey) + 1
	if j.kind == BackfillConvert {
		per = len(j.table.PrimaryKey) + 1 + 2*len(j.colsCAS)
	}
	return max(10, min(5000, 30000/per))
}

// stalePredicate selects the rows the job converts.
func (r *Runner) stalePredicate(j job) (string, []any) {
	col := r.q(j.table.Stamp)
	if j.refill {
		return "(" + col + " < ? OR " + col + " = ?)", []any{j.target.Stamp(), j.target.MarkedStamp()}
	}
	return col + " < ?", []any{j.target.Stamp()}
}

func (r *Runner) staleCount(ctx context.Context, db *gorm.DB, j job) (int64, error) {
	pred, args := r.stalePredicate(j)
	var n int64
	err := db.WithContext(ctx).Raw("SELECT COUNT(*) FROM "+r.q(j.table.Table)+" WHERE "+pred, args...).Scan(&n).Error
	return n, err
}

func (r *Runner) q(ident string) string { return dialect.QuoteIdent(r.dialect, ident) }

// pkTuple renders the primary key as a column or a row value.
func (r *Runner) pkTuple(pk []string) string {
	cols := make([]string, len(pk))
	for i, c := range pk {
		cols[i] = r.q(c)
	}
	if len(cols) == 1 {
		return cols[0]
	}
	return "(" + strings.Join(cols, ", ") + ")"
}

func placeholders(n int) string {
	if n == 1 {
		return "?"
	}
	return dialect.Tuple(n)
}

// batch converts the next keys after the cursor; it reports the rows done,
// the rows skipped because someone changed them meanwhile, and whether more
// keys may follow.
func (r *Runner) batch(ctx context.Context, tx *gorm.DB, j job, st *store.Backfill, n int) (done, conflicts int, more bool, err error) {
	var keys [][]any
	switch j.kind {
	case BackfillConvert:
		keys, done, err = r.convertBatch(ctx, tx, j, st.Cursor, n)
	default:
		if len(j.table.PrimaryKey) == 1 {
			return r.rangeBatch(ctx, tx, j, st, n)
		}
		keys, err = r.nextKeys(ctx, tx, j, st.Cursor, n)
		if err == nil && len(keys) > 0 {
			in, args := r.keyIn(j.table.PrimaryKey, keys)
			done, err = r.setBatch(ctx, tx, j, in, args)
		}
	}
	if err != nil || len(keys) == 0 {
		return 0, 0, false, err
	}
	if st.Cursor, err = cursorOf(keys[len(keys)-1]); err != nil {
		return 0, 0, false, err
	}
	return done, len(keys) - done, len(keys) == n, nil
}

// nextKeys reads the primary keys of the next n stale rows after cursor.
func (r *Runner) nextKeys(ctx context.Context, tx *gorm.DB, j job, cursor string, n int) ([][]any, error) {
	return r.keysetRows(ctx, tx, j, nil, cursor, n)
}

// keysetRows reads the next n stale rows after cursor in key order: their
// primary key columns (bytes turned into strings, as cursors hold them),
// then the columns extra, as the driver returns them.
func (r *Runner) keysetRows(ctx context.Context, tx *gorm.DB, j job, extra []string, cursor string, n int) ([][]any, error) {
	pk := j.table.PrimaryKey
	cols := make([]string, 0, len(pk)+len(extra))
	for _, c := range append(append([]string(nil), pk...), extra...) {
		cols = append(cols, r.q(c))
	}
	pred, args := r.stalePredicate(j)
	sql := "SELECT " + strings.Join(cols, ", ") + " FROM " + r.q(j.table.Table) + " WHERE " + pred
	if cursor != "" {
		last, err := decodeKey(cursor)
		if err != nil {
			return nil, fmt.Errorf("backfill cursor of %s: %w", j.table.Table, err)
		}
		sql += " AND " + r.pkTuple(pk) + " > " + placeholders(len(pk))
		args = append(args, last...)
	}
	sql += " ORDER BY " + strings.Join(cols[:len(pk)], ", ") + fmt.Sprintf(" LIMIT %d", n)
	rows, err := tx.WithContext(ctx).Raw(sql, args...).Rows()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i := range pk {
			if b, ok := vals[i].([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}

func decodeKey(s string) ([]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var vals []any
	if err := dec.Decode(&vals); err != nil {
		return nil, err
	}
	for i, v := range vals {
		if n, ok := v.(json.Number); ok {
			if x, err := n.Int64(); err == nil {
				vals[i] = x
			} else if f, err := n.Float64(); err == nil {
				vals[i] = f
			}
		}
	}
	return vals, nil
}

// keyIn renders "pk IN (...)" for keys.
func (r *Runner) keyIn(pk []string, keys [][]any) (string, []any) {
	parts := make([]string, len(keys))
	args := make([]any, 0, len(keys)*len(pk))
	for i, k := range keys {
		parts[i] = placeholders(len(pk))
		args = append(args, k...)
	}
	return r.pkTuple(pk) + " IN ( " + strings.Join(parts, ", ") + ")", args
}
