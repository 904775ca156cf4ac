package migrations

import (
	"context"
	"sort"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"

	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

// Step is one migration the plan will run.
type Step struct {
	Migration *Migration `json:"-"`
	ID        string     `json:"id"`
	Kind      Kind       `json:"kind"`
	File      string     `json:"file,omitempty"`
	SQL       string     `json:"sql,omitempty"`
	Resume    int        `json:"resume_at_statement,omitempty"` // statements already committed by a failed run (MySQL)
	Retry     bool       `json:"retry,omitempty"`               // an earlier run failed
}

// PhasePlan lists the steps of one phase, in order.
type PhasePlan struct {
	Phase versions.Phase `json:"phase"`
	Steps []Step         `json:"steps"`
}

// Plan is what a run would do, computed without changing the database.
type Plan struct {
	Dialect string      `json:"dialect"`
	Target  string      `json:"target"`
	Phases  []PhasePlan `json:"phases"`
}

// view is the database's migration state read against the source.
type view struct {
	src      *Source
	rows     map[versions.MigrationID]store.Migration
	unknown  []store.Migration // applied rows the source does not name
	covered  versions.Version  // releases up to this one are covered by a baseline
	baseline *Migration        // baseline a fresh install would apply, if any
	states   map[versions.Version]versions.State
}

func (r *Runner) readView(ctx context.Context, db *gorm.DB, target versions.Version) (*view, error) {
	rows, err := store.History(ctx, db)
	if err != nil {
		return nil, err
	}
	states, err := store.ReleaseStates(ctx, db)
	if err != nil {
		return nil, err
	}
	v := &view{src: r.src, rows: map[versions.MigrationID]store.Migration{}, states: map[versions.Version]versions.State{}}
	for _, s := range states {
		rel, perr := versions.Parse(s.Release)
		st, serr := versions.ParseState(s.State)
		if perr == nil && serr == nil {
			v.states[rel] = st
		}
	}
	// The database is fresh while nothing but a failed (or interrupted)
	// baseline was recorded: the re-run retries the baseline.
	fresh := true
	for _, row := range rows {
		id, err := versions.ParseMigrationID(row.ID)
		if err != nil || id.Phase != versions.PhaseBaseline || row.Status == store.StatusApplied || row.Status == store.StatusBaselined {
			fresh = false
		}
		if err != nil {
			continue
		}
		v.rows[id] = row
		if id.Phase == versions.PhaseBaseline && (row.Status == store.StatusApplied || row.Status == store.StatusBaselined) {
			if id.Release.Compare(v.covered) > 0 {
				v.covered = id.Release
			}
		}
		if _, known := r.src.Lookup(id); !known && row.Status != store.StatusBaselined {
			v.unknown = append(v.unknown, row)
		}
	}
	if fresh {
		// A fresh database: the newest baseline at or below the target, then
		// what follows it, never the whole history.
		for _, m := range r.src.Migrations() {
			if m.Kind == KindBaseline && m.ID.Release.Compare(target) <= 0 {
				v.baseline = m
			}
		}
		if v.baseline != nil {
			v.covered = v.baseline.ID.Release
		}
	}
	return v, nil
}

// applied reports whether the migration has run (or a baseline covers it).
func (v *view) applied(id versions.MigrationID) bool {
	if !v.covered.IsZero() && id.Release.Compare(v.covered) <= 0 {
		return true
	}
	row, ok := v.rows[id]
	return ok && (row.Status == store.StatusApplied || row.Status == store.StatusBaselined)
}

// state returns the release's state, taking a baseline into account.
func (v *view) state(r versions.Version) versions.State {
	if s, ok := v.states[r]; ok {
		return s
	}
	if !v.covered.IsZero() && r.Compare(v.covered) <= 0 {
		return versions.StateContracted
	}
	return versions.StatePending
}

// pending returns the steps of one phase for releases up to target.
func (v *view) pending(d dialect.Name, phase versions.Phase, target versions.Version) []Step {
	var out []Step
	if phase == versions.PhaseExpand && v.baseline != nil {
		// A fresh install: the baseline is pending, what it covers is not.
		out = append(out, v.step(d, v.baseline))
	}
	for _, m := range v.src.Migrations() {
		if m.ID.Phase != phase || m.ID.Release.Compare(target) > 0 || v.applied(m.ID) {
			continue
		}
		out = append(out, v.step(d, m))
	}
	return out
}

func (v *view) step(d dialect.Name, m *Migration) Step {
	s := Step{Migration: m, ID: m.ID.String(), Kind: m.Kind, File: m.File(d), SQL: m.SQL(d)}
	if row, ok := v.rows[m.ID]; ok && (row.Status == store.StatusFailed || row.Status == store.StatusRunning) {
		s.Retry = true
		s.Resume = row.StatementsDone
	}
	return s
}

// heads computes the composite schema version.
func (v *view) heads() versions.SchemaVersion {
	want := v.src.Want()
	var sv versions.SchemaVersion
	for _, h := range want.Releases {
		if !v.covered.IsZero() && h.Release.Compare(v.covered) <= 0 {
			sv.Set(h)
		}
	}
	ids := make([]versions.MigrationID, 0, len(v.rows))
	for id := range v.rows {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].Less(ids[j]) })
	for _, id := range ids {
		if !v.applied(id) {
			continue
		}
		h := sv.Heads(id.Release)
		h.Release = id.Release
		switch id.Phase {
		case versions.PhaseBaseline:
			h.Baseline = true
		case versions.PhaseExpand:
			h.Expand = max(h.Expand, id.Seq)
		case versions.PhaseContract:
			h.Contract = max(h.Contract, id.Seq)
		default:
			continue
		}
		sv.Set(h)
	}
	return sv
}

// Plan returns what the given phases (all three when none is given) would run
// for releases up to target (zero: the newest), without changing anything.
func (r *Runner) Plan(ctx context.Context, target versions.Version, phases ...versions.Phase) (*Plan, error) {
	target, err := r.resolve(target)
	if err != nil {
		return nil, err
	}
	v, err := r.readView(ctx, r.db.WithContext(ctx), target)
	if err != nil {
		return nil, err
	}
	if len(phases) == 0 {
		phases = versions.Phases()
	}
	p := &Plan{Dialect: string(r.dialect), Target: target.String()}
	for _, ph := range phases {
		p.Phases = append(p.Phases, PhasePlan{Phase: ph, Steps: v.pending(r.dialect, ph, target)})
	}
	return p, nil
}
