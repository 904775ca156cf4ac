package compat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"

	"github.com/tandemdb/tandem/versions"
)

// guard refuses a binary that must not run on this database.
func (p *Plugin) guard(states map[versions.Version]versions.State) error {
	for r, s := range states {
		if p.release.Less(r) && (s == versions.StateContractReady || s == versions.StateContracted) {
			return &GuardError{Release: p.release, Other: r, State: s, Err: ErrTooOld}
		}
	}
	// Two releases ahead: the instances of a release beyond the next one do
	// not write the columns the next one deprecates (to them those are
	// gone), which this binary still reads.
	var next versions.Version
	for r := range states {
		if p.release.Less(r) && (next.IsZero() || r.Less(next)) {
			next = r
		}
	}
	var beyond versions.Version
	for r, s := range states {
		if !next.IsZero() && next.Less(r) && (s == versions.StateExpanding || s == versions.StateExpanded) && (beyond.IsZero() || r.Less(beyond)) {
			beyond = r
		}
	}
	if !beyond.IsZero() {
		return &GuardError{Release: p.release, Other: beyond, Next: next, State: states[beyond], Err: ErrTooOld}
	}
	if !p.base.IsZero() && p.base != p.release {
		// The models carry the base release's fields: its expand must be
		// applied (in the database's list at all).
		// Unlisted, it is taken as contracted when a later listed release is
		// expanded or beyond (a baseline that squashed it, say).
		switch s, ok := states[p.base]; {
		case !ok && !p.listedFrom(states, p.base):
			return &GuardError{Release: p.release, Base: p.base, State: versions.StatePending, Err: ErrExpandNotApplied}
		case ok && (s == versions.StatePending || s == versions.StateExpanding):
			return &GuardError{Release: p.release, Base: p.base, State: s, Err: ErrExpandNotApplied}
		}
	}
	switch s := p.ownState(states); s {
	case versions.StatePending, versions.StateExpanding:
		return &GuardError{Release: p.release, State: s, Err: ErrExpandNotApplied}
	}
	return nil
}

// ErrRefillPending: rows written in L(c) of a newer release still lack
// their deprecated values after a flip back.
var ErrRefillPending = errors.New("compat: a newer release was flipped back and its rows are not refilled yet")

// refillGuard keeps an older binary out while a newer release, flipped back
// to L(m), still has rows written in L(c) (marked in their stamp): their
// deprecated columns are empty until `tandem migrate` refills them.
func (p *Plugin) refillGuard(ctx context.Context, states map[versions.Version]versions.State) error {
	var newer []versions.Version
	for r, s := range states {
		if p.release.Less(r) && s == versions.StateExpanded {
			newer = append(newer, r)
		}
	}
	if len(newer) == 0 {
		return nil
	}
	models, err := store.Models(ctx, p.db)
	if err != nil {
		return err
	}
	d := dialect.Of(p.db)
	seen := map[string]bool{}
	for _, m := range models {
		doc, err := m.Doc()
		if err != nil || doc.Stamp == "" || seen[doc.Table] || !p.db.WithContext(ctx).Migrator().HasTable(doc.Table) {
			continue
		}
		seen[doc.Table] = true
		for _, r := range newer {
			var n int64
			q := "SELECT COUNT(*) FROM (SELECT 1 AS x FROM " + dialect.QuoteIdent(d, doc.Table) + " WHERE " + dialect.QuoteIdent(d, doc.Stamp) + " = ? LIMIT 1) t"
			if err := p.db.WithContext(ctx).Raw(q, r.MarkedStamp()).Scan(&n).Error; err != nil {
				return fmt.Errorf("compat: check refill of %s: %w", doc.Table, err)
			}
			if n > 0 {
				return &GuardError{Release: p.release, Other: r, State: versions.StateExpanded, Err: ErrRefillPending, Table: doc.Table}
			}
		}
	}
	return nil
}

// waitForGuard checks the guard, waiting up to the start timeout for the
// expand of this release when asked to.
func (p *Plugin) waitForGuard(ctx context.Context) (map[versions.Version]versions.State, error) {
	deadline := time.Now().Add(p.opts.startTimeout)
	logged := false
	for {
		states, err := readStates(ctx, p.db)
		if err != nil {
			return nil, err
		}
		gerr := p.guard(states)
		if gerr == nil {
			gerr = p.refillGuard(ctx, states)
		}
		ge, _ := gerr.(*GuardError)
		if gerr == nil || ge == nil || ge.Err != ErrExpandNotApplied || time.Now().After(deadline) {
			return states, gerr
		}
		if !logged {
			what := "its expand"
			if !ge.Base.IsZero() {
				what = "the expand of " + ge.Base.String() + ", whose fields its models carry,"
			}
			p.opts.logf("tandem: release %s waits up to %s for %s (state %s)", p.release, time.Until(deadline).Round(time.Second), what, ge.State)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(p.opts.poll, time.Until(deadline)+time.Millisecond)):
		}
	}
}

// listedFrom reports whether a release above r is listed expanded or beyond.
func (p *Plugin) listedFrom(states map[versions.Version]versions.State, r versions.Version) bool {
	for o, s := range states {
		if r.Less(o) && s != versions.StatePending && s != versions.StateExpanding {
			return true
		}
	}
	return false
}

// changesSchema reports whether any declared model adds or deprecates a
// field in the plugin's release.
func (p *Plugin) changesSchema() bool { return p.base == p.release }

// baseRelease returns the newest release, at or below the plugin's, in
// which a declared model adds or deprecates a field; zero when none does.
func (p *Plugin) baseRelease() versions.Version {
	var b versions.Version
	for _, s := range p.declared {
		for _, f := range s.Fields {
			for _, r := range [2]versions.Version{f.Added, f.Deprecated} {
				if !p.release.Less(r) && b.Less(r) {
					b = r
				}
			}
		}
	}
	return b
}
