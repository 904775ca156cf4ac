package compat

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

// Mode is how the plugin treats the transitional fields of its release.
type Mode string

// Modes.
const (
	// ModeDual is L(m): deprecated and new fields are both read and written.
	ModeDual Mode = "L(m)"
	// ModeContract is L(c): deprecated fields are hidden.
	ModeContract Mode = "L(c)"
)

// snapshot is the state the plugin works with; a statement uses one
// snapshot from its first callback to its last, so it never sees a mix.
type snapshot struct {
	states map[versions.Version]versions.State
	// rel is the release whose transitional fields the plugin handles now
	// and whose state is state: the plugin's own, or its base release while
	// that one is between its expand and its contract (see follows).
	rel   versions.Version
	state versions.State // of rel (effective)
	mode  Mode
	stamp int64 // value written into obj_version
	seq   uint64
	// newer: a release above the plugin's is expanding or beyond, so rows
	// may carry a newer stamp than the plugin writes.
	newer bool
}

func (p *Plugin) newSnapshot(states map[versions.Version]versions.State) *snapshot {
	s := &snapshot{states: states, rel: p.release, state: p.ownState(states)}
	stampRel, stampState := p.release, s.state
	if p.follows(states) {
		s.rel, s.state = p.base, states[p.base]
		if p.hostedByBase(states) {
			// Nothing else knows this release: it writes exactly what its
			// base writes, the L(c) marker included.
			stampRel, stampState = p.base, s.state
		}
	}
	s.mode = ModeDual
	switch s.state {
	case versions.StateContractReady, versions.StateContracted:
		s.mode = ModeContract // hidden; after the contract, gone
	}
	s.stamp = stampRel.Stamp()
	if stampState == versions.StateContractReady {
		// Rows written now lack their deprecated values: the marker says
		// so, for a flip back.
		s.stamp = stampRel.MarkedStamp()
	}
	for r, st := range states {
		if stampRel.Less(r) && st != versions.StatePending {
			s.newer = true
		}
	}
	if old := p.snap.Load(); old != nil {
		s.seq = old.seq + 1
	}
	return s
}

// follows reports whether the plugin runs as its base release: a release
// whose models add and deprecate nothing of their own (a patch release, or
// one whose migrations change no model) handles the fields of the newest
// release its tags name, in that release's mode, from that release's
// expand until its contract.
func (p *Plugin) follows(states map[versions.Version]versions.State) bool {
	if p.base.IsZero() || p.base == p.release {
		return false
	}
	s := states[p.base]
	return s == versions.StateExpanded || s == versions.StateContractReady
}

// hostedByBase reports whether the database lists no release above the
// base up to the plugin's own, other than pending ones (which do not block
// a flip back of the base): then the plugin's rows are its base's rows.
func (p *Plugin) hostedByBase(states map[versions.Version]versions.State) bool {
	for r, s := range states {
		if p.base.Less(r) && !p.release.Less(r) && s != versions.StatePending {
			return false
		}
	}
	return true
}

// ownState is the state of the plugin's own release. A release the
// database does not list, and whose models change nothing in it, takes the
// state of the newest listed release below it that is expanded or beyond
// (a patch release with no schema change needs no expand of its own).
func (p *Plugin) ownState(states map[versions.Version]versions.State) versions.State {
	if s, ok := states[p.release]; ok {
		return s
	}
	if p.changesSchema() {
		return versions.StatePending
	}
	var best versions.Version
	found := false
	for r, s := range states {
		if r.Less(p.release) && (!found || best.Less(r)) && s != versions.StatePending && s != versions.StateExpanding {
			best, found = r, true
		}
	}
	if !found {
		return versions.StatePending
	}
	// Below our release everything is at least expanded: we run as L(m)
	// of a release with no transitional fields.
	return versions.StateExpanded
}

// readStates loads every release's state; polling (known tables) skips the
// catalog lookup.
func readStates(ctx context.Context, db *gorm.DB, polling ...bool) (map[versions.Version]versions.State, error) {
	load := store.ReleaseStates
	if len(polling) > 0 && polling[0] {
		load = store.LoadReleaseStates
	}
	rows, err := load(ctx, db)
	if err != nil {
		return nil, err
	}
	out := make(map[versions.Version]versions.State, len(rows))
	for _, r := range rows {
		v, err1 := versions.Parse(r.Release)
		s, err2 := versions.ParseState(r.State)
		if err1 == nil && err2 == nil {
			out[v] = s
		}
	}
	return out, nil
}

// refresh reloads the states and publishes a new snapshot when they changed.
func (p *Plugin) refresh(ctx context.Context) error {
	states, err := readStates(ctx, p.db, true)
	if err != nil {
		return err
	}
	cur := p.snap.Load()
	if cur != nil && sameStates(cur.states, states) {
		return nil
	}
	next := p.newSnapshot(states)
	p.snap.Store(next)
	if cur != nil && cur.mode != next.mode {
		p.opts.logf("tandem: release %s is now %s (%s)", p.label(next), next.state, next.mode)
	}
	p.notifyChange()
	return nil
}

func sameStates(a, b map[versions.Version]versions.State) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// notifyChange wakes whoever waits for a state change, and the heartbeat,
// which acknowledges the new state at once.
func (p *Plugin) notifyChange() {
	p.changeMu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.changeMu.Unlock()
	select {
	case p.beatNow <- struct{}{}:
	default:
	}
}

// Changed returns a channel closed at the next change of the release states
// the plugin sees.
func (p *Plugin) Changed() <-chan struct{} {
	p.changeMu.Lock()
	defer p.changeMu.Unlock()
	return p.changed
}

// Mode returns the mode the plugin runs in now.
func (p *Plugin) Mode() Mode { return p.snap.Load().mode }

// State returns the state of the release the plugin runs as (see RunsAs),
// as the plugin sees it now.
func (p *Plugin) State() versions.State { return p.snap.Load().state }

// RunsAs returns the release whose transitional fields and state the plugin
// follows now: its own release, or, for a release whose models declare no
// change of their own, the newest release its tags name while that release
// is expanded or contract-ready.
func (p *Plugin) RunsAs() versions.Version { return p.snap.Load().rel }

// label names the release for log lines: "2.0.1 (as 2.0)" while it follows
// its base.
func (p *Plugin) label(s *snapshot) string {
	if s.rel != p.release {
		return p.release.String() + " (as " + s.rel.String() + ")"
	}
	return p.release.String()
}

// poll reloads the states every poll interval until ctx ends.
func (p *Plugin) poll(ctx context.Context) {
	t := time.NewTicker(p.opts.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.refresh(ctx); err != nil && ctx.Err() == nil {
				p.opts.logf("tandem: reload release states: %v", err)
			}
		}
	}
}

// listen waits for PostgreSQL notifications on a connection of its own and
// reloads at once; it reconnects after errors until ctx ends.
func (p *Plugin) listen(ctx context.Context, sqlDB *sql.DB) {
	for ctx.Err() == nil {
		err := p.listenOnce(ctx, sqlDB)
		if ctx.Err() != nil {
			return
		}
		p.opts.logf("tandem: listen for state changes: %v (polling continues; retrying)", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.opts.poll):
		}
	}
}

func (p *Plugin) listenOnce(ctx context.Context, sqlDB *sql.DB) error {
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "LISTEN "+store.NotifyChannel); err != nil {
		return err
	}
	// A change between the last poll and LISTEN would otherwise wait for
	// the next poll.
	if err := p.refresh(ctx); err != nil {
		return err
	}
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return errors.New("not a pgx connection")
		}
		for {
			if _, err := sc.Conn().WaitForNotification(ctx); err != nil {
				return err
			}
			if err := p.refresh(ctx); err != nil {
				return err
			}
		}
	})
}
