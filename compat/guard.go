package compat

import (
	"context"
	"time"

	"github.com/tandemdb/tandem/versions"
)

// guard refuses a binary that must not run on this database.
func (p *Plugin) guard(states map[versions.Version]versions.State) error {
	for r, s := range states {
		if p.release.Less(r) && (s == versions.StateContractReady || s == versions.StateContracted) {
			return &GuardError{Release: p.release, Other: r, State: s, Err: ErrTooOld}
		}
	}
	switch s := p.effectiveState(states); s {
	case versions.StatePending, versions.StateExpanding:
		return &GuardError{Release: p.release, State: s, Err: ErrExpandNotApplied}
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
		ge, _ := gerr.(*GuardError)
		if gerr == nil || ge == nil || ge.Err != ErrExpandNotApplied || time.Now().After(deadline) {
			return states, gerr
		}
		if !logged {
			p.opts.logf("tandem: release %s waits up to %s for its expand (state %s)", p.release, time.Until(deadline).Round(time.Second), ge.State)
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(p.opts.poll, time.Until(deadline)+time.Millisecond)):
		}
	}
}

// changesSchema reports whether any declared model adds or deprecates a
// field in the plugin's release.
func (p *Plugin) changesSchema() bool {
	for _, s := range p.declared {
		if len(s.AddedIn(p.release)) > 0 || len(s.DeprecatedIn(p.release)) > 0 {
			return true
		}
	}
	return false
}
