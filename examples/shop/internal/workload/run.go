package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dblock"
)

// Service is one release's writes. Each method makes one write (a read may
// come before it) and returns the record of what it wrote. After a deadlock
// or a lock timeout the whole method is called again, so it must not hold
// state from a failed attempt.
type Service interface {
	// CreateCustomer inserts customer id.
	CreateCustomer(ctx context.Context, id uint, r *rand.Rand) (Record, error)
	// CreateParcel inserts the parcel of customer id, with the same id.
	CreateParcel(ctx context.Context, id uint, r *rand.Rand) (Record, error)
	// Update changes customer id or its parcel.
	Update(ctx context.Context, id uint, r *rand.Rand) (Record, error)
}

// Stats counts what a writer did.
type Stats struct {
	Writes  int64 // committed and logged
	Creates int64 // of which inserts
	Retries int64 // attempts that met a deadlock or a lock timeout
	Replans int64 // attempts that met a stale cached plan (PostgreSQL, after DDL)
}

func (s Stats) String() string {
	return fmt.Sprintf("%d writes (%d inserts), %d retries (deadlock, lock timeout), %d re-prepares (stale cached plan)", s.Writes, s.Creates, s.Retries, s.Replans)
}

// Seed creates the customer and the parcel of every owned id that lacks
// them, in id order, and returns. SIGTERM stops it between two writes.
func Seed(ctx context.Context, db *gorm.DB, svc Service, c *Config, log *Log) (Stats, error) {
	w, err := newWriter(ctx, db, svc, c, log)
	if err != nil {
		return Stats{}, err
	}
	for _, id := range c.IDs.List() {
		for !w.hasP[id] {
			if ctx.Err() != nil {
				return w.st, nil
			}
			if err := w.write(id); err != nil {
				return w.st, err
			}
		}
	}
	return w.st, nil
}

// Write writes at c.Rate until c.Duration has passed or ctx is cancelled
// (SIGTERM). Each write goes to a random owned id: it creates the customer,
// then its parcel, then updates one or the other. A cancelled ctx never cuts
// a write short: its outcome must be known to log it.
func Write(ctx context.Context, db *gorm.DB, svc Service, c *Config, log *Log) (Stats, error) {
	w, err := newWriter(ctx, db, svc, c, log)
	if err != nil {
		return Stats{}, err
	}
	var end <-chan time.Time
	if c.Duration > 0 {
		t := time.NewTimer(c.Duration)
		defer t.Stop()
		end = t.C
	}
	ids := c.IDs.List()
	start, n := time.Now(), 0
	for ; ; n++ {
		if c.Rate > 0 {
			next := start.Add(time.Duration(float64(n) / c.Rate * float64(time.Second)))
			if d := time.Until(next); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
				case <-end:
				case <-t.C:
				}
				t.Stop()
			} else if d < -time.Second {
				start, n = time.Now(), 0 // far behind (a long lock wait): no burst to catch up
			}
		}
		select {
		case <-ctx.Done():
			return w.st, nil
		case <-end:
			return w.st, nil
		default:
		}
		if err := w.write(ids[w.r.Intn(len(ids))]); err != nil {
			return w.st, err
		}
	}
}

type writer struct {
	work       context.Context
	svc        Service
	log        *Log
	r          *rand.Rand
	hasC, hasP map[uint]bool
	st         Stats
}

func newWriter(ctx context.Context, db *gorm.DB, svc Service, c *Config, log *Log) (*writer, error) {
	w := &writer{work: context.WithoutCancel(ctx), svc: svc, log: log, r: rand.New(rand.NewSource(c.Seed))}
	var err error
	if w.hasC, err = existing(w.work, db, "customers", c.IDs); err != nil {
		return nil, err
	}
	if w.hasP, err = existing(w.work, db, "parcels", c.IDs); err != nil {
		return nil, err
	}
	return w, nil
}

// existing returns the owned ids that already have a row in table.
func existing(ctx context.Context, db *gorm.DB, table string, ids IDs) (map[uint]bool, error) {
	var got []uint
	if err := db.WithContext(ctx).Table(table).Where("id BETWEEN ? AND ?", ids.Lo, ids.Hi).Pluck("id", &got).Error; err != nil {
		return nil, fmt.Errorf("list existing %s: %w", table, err)
	}
	has := map[uint]bool{}
	for _, id := range got {
		if ids.Has(id) {
			has[id] = true
		}
	}
	return has, nil
}

// write makes the next write of id, retried like a service retries, and
// logs it once committed.
func (w *writer) write(id uint) error {
	op, what := w.svc.Update, "update"
	switch {
	case !w.hasC[id]:
		op, what = w.svc.CreateCustomer, "create customer"
	case !w.hasP[id]:
		op, what = w.svc.CreateParcel, "create parcel"
	}
	var rec Record
	err := w.retry(func() error {
		var err error
		rec, err = op(w.work, id, w.r)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s %d: %w", what, id, err)
	}
	if rec.Op == OpCreate {
		w.st.Creates++
		if rec.Kind == KindCustomer {
			w.hasC[id] = true
		} else {
			w.hasP[id] = true
		}
	}
	w.st.Writes++
	return w.log.Append(rec)
}

// maxAttempts bounds the retries of one write: with the backoff below, a
// write gives up after about ten seconds of deadlocks and lock timeouts.
const maxAttempts = 16

func (w *writer) retry(fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		stale := StalePlan(err)
		if err == nil || !(stale || Retryable(err)) || attempt == maxAttempts {
			return err
		}
		if stale {
			w.st.Replans++
			continue // pgx dropped the statement: the next attempt prepares it again
		}
		w.st.Retries++
		time.Sleep(min(10*time.Millisecond<<attempt, time.Second))
	}
}

// Retryable reports the errors a service retries: deadlocks, serialization
// failures and lock timeouts (see dblock.IsTransient).
func Retryable(err error) bool { return dblock.IsTransient(err) }

// StalePlan reports PostgreSQL's refusal to run a prepared statement whose
// result columns changed since it was prepared ("cached plan must not change
// result type", SQLSTATE 0A000). pgx prepares and caches every statement on
// each connection, and GORM reads a model with SELECT *, so the first
// re-execution of a read on each connection fails once after an expand added
// a column to the table. The statement did not run, and pgx has dropped it
// from its cache: running it again prepares it afresh and succeeds. The
// compat plugin lists the columns of versioned models explicitly, so their
// reads no longer meet it; the writers still count it, should it appear.
func StalePlan(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "0A000" && strings.Contains(pe.Message, "cached plan must not change result type")
}
