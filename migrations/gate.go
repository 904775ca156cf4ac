package migrations

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

// GateFact is one reason a contract is refused, with what to run next.
type GateFact struct {
	Reason string `json:"reason"`
	Next   string `json:"next,omitempty"`
	Err    error  `json:"-"`
}

// GateRefusal refuses the contract of a release and lists every blocking
// fact at once. It matches ErrGateRefused (exit code 7), and errors.As finds
// the *OrderError and *FlagError among its facts.
type GateRefusal struct {
	Release versions.Version
	Facts   []GateFact
}

// Error implements error.
func (e *GateRefusal) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migrations: contract of %s refused (%d reason(s)):", e.Release, len(e.Facts))
	for _, f := range e.Facts {
		b.WriteString("\n  - " + f.Reason)
		if f.Next != "" {
			b.WriteString("\n    next: " + f.Next)
		}
	}
	return b.String()
}

// Is makes errors.Is(err, ErrGateRefused) true.
func (e *GateRefusal) Is(target error) bool { return target == ErrGateRefused }

// Unwrap returns the facts' own errors.
func (e *GateRefusal) Unwrap() []error {
	var out []error
	for _, f := range e.Facts {
		if f.Err != nil {
			out = append(out, f.Err)
		}
	}
	return out
}

// WithSoak requires the ready-for-contract flag to have been set for at
// least d before a contract (default 0).
func WithSoak(d time.Duration) Option {
	return func(r *Runner) error {
		if d < 0 {
			return errors.New("migrations: negative soak")
		}
		r.soak = d
		return nil
	}
}

// gate collects every fact that forbids the contract of rel: expand or
// migrate pending, the flag not set (or not for long enough), live
// instances that run an older release or have not acknowledged L(c), stale
// rows in a versioned table, and the refusals of the extra gates.
func (r *Runner) gate(ctx context.Context, db *gorm.DB, v *view, rel, target versions.Version) error {
	ref := &GateRefusal{Release: rel}
	add := func(reason, next string, err error) {
		ref.Facts = append(ref.Facts, GateFact{Reason: reason, Next: next, Err: err})
	}
	for _, need := range []versions.Phase{versions.PhaseExpand, versions.PhaseMigrate} {
		if err := r.requireDone(v, versions.PhaseContract, target, need); err != nil {
			var oe *OrderError
			errors.As(err, &oe)
			add(fmt.Sprintf("%s pending: %s", need, idList(oe.Pending)), fmt.Sprintf("tandem %s --release %s", need, target), err)
		}
	}
	st := v.state(rel)
	if st != versions.StateContractReady {
		add(fmt.Sprintf("release %s is %s: the ready-for-contract flag is not set", rel, st),
			fmt.Sprintf("tandem flag set --release %s contract-ready (when no older instance is live)", rel), &FlagError{Release: rel, State: st})
	} else if r.soak > 0 {
		since, err := stateSince(ctx, db, rel)
		if err != nil {
			return err
		}
		if age := store.Now().Sub(since); age < r.soak {
			add(fmt.Sprintf("the flag was set %s ago; the soak is %s", age.Round(time.Second), r.soak),
				fmt.Sprintf("wait %s, or lower --soak", (r.soak-age).Round(time.Second)), nil)
		}
	}
	insts, err := store.Instances(ctx, db)
	if err != nil {
		return err
	}
	now := store.Now()
	for _, in := range insts {
		if !in.Live(now) {
			continue
		}
		switch {
		case in.ReleaseStamp < rel.Stamp():
			add(fmt.Sprintf("instance %s (pid %d on %s) runs release %s", in.ID, in.PID, in.Host, in.Release),
				fmt.Sprintf("stop it; if it is dead: tandem instances forget %s", in.ID), nil)
		case !in.Acknowledged(rel):
			add(fmt.Sprintf("instance %s (pid %d on %s) has not acknowledged %s(c) yet (it last saw %s)", in.ID, in.PID, in.Host, rel, in.SeenState),
				"wait for its next heartbeat", nil)
		}
	}
	// Stale rows block whatever else does: the refusal lists every fact.
	tables, err := r.tablesOn(ctx, db)
	if err != nil {
		return err
	}
	for _, t := range tables {
		n, err := CountStale(ctx, db, t, rel)
		if err != nil {
			return err
		}
		if n > 0 {
			add(fmt.Sprintf("table %s has %d row(s) stamped below %s", t.Table, n, rel),
				fmt.Sprintf("tandem migrate --release %s, then tandem coverage --release %s", rel, rel), nil)
		}
	}
	if probs, err := r.scopeProblems(ctx, db, rel); err != nil {
		return err
	} else {
		for _, p := range probs {
			add(p, "fix the contract migration, declare the column deprecated in the model, or pass --allow-undeclared-drops", nil)
		}
	}
	if len(ref.Facts) == 0 {
		for _, g := range r.gates {
			if err := g.AllowContract(ctx, db, rel); err != nil {
				add(err.Error(), "", err)
			}
		}
	}
	if len(ref.Facts) > 0 {
		return ref
	}
	return nil
}

func idList(ids []versions.MigrationID) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = id.String()
	}
	return strings.Join(s, ", ")
}

func stateSince(ctx context.Context, db *gorm.DB, rel versions.Version) (time.Time, error) {
	var row store.Release
	if err := db.WithContext(ctx).Where("release_name = ?", rel.String()).Take(&row).Error; err != nil {
		return time.Time{}, fmt.Errorf("migrations: read state of %s: %w", rel, err)
	}
	return row.Since, nil
}

// scopeProblems lists contract statements of rel that drop or alter a
// column no registered model deprecates in rel (warnings excluded), unless
// the runner was told to allow them.
func (r *Runner) scopeProblems(ctx context.Context, db *gorm.DB, rel versions.Version) ([]string, error) {
	if r.allowDrops {
		return nil, nil
	}
	probs, err := r.validateScope(ctx, db, rel)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range probs {
		if !p.Warning {
			out = append(out, p.String())
		}
	}
	return out, nil
}

// WithUndeclaredDrops lets a contract drop or alter columns that no
// registered model declares deprecated in its release. Every use is
// journaled.
func WithUndeclaredDrops() Option {
	return func(r *Runner) error { r.allowDrops = true; return nil }
}

// WithoutArchive skips archiving the dropped columns before a contract.
func WithoutArchive() Option {
	return func(r *Runner) error { r.noArchive = true; return nil }
}

// WithObserver calls fn at named stages of a contract ("gate passed",
// "coverage enforced", "archived", "contract migrations applied"); tests and
// tools use it to act at a precise moment.
func WithObserver(fn func(stage string)) Option {
	return func(r *Runner) error { r.observe = fn; return nil }
}

func (r *Runner) stage(s string) {
	if r.observe != nil {
		r.observe(s)
	}
}

// tablesOn lists the versioned tables reading the registry through db (the
// runner's locked connection, where one is held).
func (r *Runner) tablesOn(ctx context.Context, db *gorm.DB) ([]VersionedTable, error) {
	specs, err := store.Models(ctx, db)
	if err != nil {
		return nil, err
	}
	return versionedTables(db.WithContext(ctx), specs, r.models)
}
