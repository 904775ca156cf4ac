package migrations

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

// Report says what a phase run did.
type Report struct {
	Phase    versions.Phase   `json:"phase"`
	Target   string           `json:"target"`
	Applied  []string         `json:"applied"`
	Duration time.Duration    `json:"duration_ns"`
	Schema   string           `json:"schema_version"`
	Backfill []BackfillResult `json:"backfill,omitempty"`
}

// Expand applies the pending expand migrations of every release up to target
// (zero: the newest), starting a fresh database from the newest baseline at
// or below target, and moves each release to expanded.
func (r *Runner) Expand(ctx context.Context, target versions.Version) (*Report, error) {
	return r.run(ctx, versions.PhaseExpand, target)
}

// Migrate applies the pending migrate migrations of every release up to
// target, then backfills every versioned table: rows stamped below target
// are converted (the models' converters, or a SQL backfill) in keyset
// batches of short transactions, and after a flip back the rows written in
// L(c) get their deprecated values back. It is refused while an expand up
// to target is pending. With BackfillOptions.MaxRows it stops early with
// ErrMoreWork (exit code 8).
func (r *Runner) Migrate(ctx context.Context, target versions.Version) (*Report, error) {
	rep, err := r.run(ctx, versions.PhaseMigrate, target)
	if err != nil {
		return rep, err
	}
	target, _ = r.resolve(target)
	rep.Backfill, err = r.runBackfill(ctx, target)
	for _, b := range rep.Backfill {
		if b.Rows > 0 || b.Remaining > 0 {
			r.logf("backfill %s (%s): %d row(s) converted, %d retried, %d still stale", b.Table, b.Kind, b.Rows, b.Conflicts, b.Remaining)
		}
	}
	return rep, err
}

// Contract applies the pending contract migrations of every release up to
// target, release by release, and moves each to contracted. A release's
// contract is refused unless its expand and migrate are complete, its state
// is contract-ready, and every gate allows it.
func (r *Runner) Contract(ctx context.Context, target versions.Version) (*Report, error) {
	return r.run(ctx, versions.PhaseContract, target)
}

func (r *Runner) run(ctx context.Context, phase versions.Phase, target versions.Version) (*Report, error) {
	target, err := r.resolve(target)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	rep := &Report{Phase: phase, Target: target.String(), Applied: []string{}}
	err = r.locked(ctx, func(db *gorm.DB) (err error) {
		defer func() {
			if errors.Is(err, ErrFailed) {
				// A run that failed is journaled too; a refused one changes
				// nothing, not even the journal.
				if jerr := store.Journal(context.WithoutCancel(ctx), db, phase.String(), target, "failed: "+firstLine(err.Error())); jerr != nil {
					r.logf("journal: %v", jerr)
				}
			}
		}()
		v, err := r.readView(ctx, db, target)
		if err != nil {
			return err
		}
		if err := r.verify(v); err != nil {
			return err
		}
		if err := r.preflight(v.pending(r.dialect, phase, target)); err != nil {
			return err
		}
		defer func() {
			if after, err := r.readView(ctx, db, target); err == nil {
				rep.Schema = after.heads().String()
			}
		}()
		switch phase {
		case versions.PhaseExpand:
			return r.expand(ctx, db, v, target, rep)
		case versions.PhaseMigrate:
			if err := r.requireDone(v, phase, target, versions.PhaseExpand); err != nil {
				return err
			}
			return r.applySteps(ctx, db, v.pending(r.dialect, phase, target), rep)
		default:
			return r.contract(ctx, db, v, target, rep)
		}
	})
	rep.Duration = time.Since(start)
	if err == nil {
		r.logf("%s up to %s: %d migration(s) applied in %s", phase, target, len(rep.Applied), rep.Duration.Round(time.Millisecond))
	}
	return rep, err
}

func (r *Runner) applySteps(ctx context.Context, db *gorm.DB, steps []Step, rep *Report) error {
	for _, s := range steps {
		if err := r.apply(ctx, db, s); err != nil {
			return err
		}
		rep.Applied = append(rep.Applied, s.ID)
	}
	return nil
}

func (r *Runner) expand(ctx context.Context, db *gorm.DB, v *view, target versions.Version, rep *Report) error {
	steps := v.pending(r.dialect, versions.PhaseExpand, target)
	if err := r.expandBlockers(ctx, db, v, target); err != nil {
		return err
	}
	if len(steps) > 0 && steps[0].Migration.Kind == KindBaseline {
		b := steps[0].Migration
		if err := r.apply(ctx, db, steps[0]); err != nil {
			return err
		}
		rep.Applied = append(rep.Applied, steps[0].ID)
		if err := r.baselineStates(ctx, db, v, ""); err != nil {
			return err
		}
		if err := store.Journal(ctx, db, "baseline", b.ID.Release, "fresh install from "+steps[0].File); err != nil {
			return err
		}
		v.rows[b.ID] = store.Migration{ID: b.ID.String(), Status: store.StatusApplied}
		steps = steps[1:]
	} else if err := r.baselineStates(ctx, db, v, " (recorded after an interrupted run)"); err != nil {
		// A runner killed between the baseline and the states it
		// implies left them unrecorded (the baseline commits first).
		return err
	}
	for _, rel := range r.src.Releases() {
		if rel.Compare(target) > 0 || v.state(rel) != versions.StatePending && v.state(rel) != versions.StateExpanding && !hasRelease(steps, rel) {
			continue
		}
		if err := r.advance(ctx, db, v, rel, versions.StateExpanding); err != nil {
			return err
		}
		for _, s := range steps {
			if s.Migration.ID.Release != rel {
				continue
			}
			if err := r.apply(ctx, db, s); err != nil {
				return err
			}
			rep.Applied = append(rep.Applied, s.ID)
		}
		if err := r.olderInstances(ctx, db, v, rel); err != nil {
			if ref, ok := err.(*ExpandRefusal); ok {
				ref.Applied = true // rel stays expanding: its binaries do not start
			}
			return err
		}
		if err := r.advance(ctx, db, v, rel, versions.StateExpanded); err != nil {
			return err
		}
	}
	return store.Journal(ctx, db, "expand", target, fmt.Sprintf("applied %v", rep.Applied))
}

// baselineStates records as contracted every release the applied baseline
// covers whose state is not recorded yet.
func (r *Runner) baselineStates(ctx context.Context, db *gorm.DB, v *view, note string) error {
	if v.covered.IsZero() {
		return nil
	}
	id := versions.MigrationID{Release: v.covered, Phase: versions.PhaseBaseline}
	for _, rel := range r.src.Releases() {
		if _, known := v.states[rel]; known || rel.Compare(v.covered) > 0 {
			continue
		}
		if err := store.ForceState(ctx, db, rel, versions.StateContracted, "built by baseline "+id.String()+note); err != nil {
			return err
		}
		v.states[rel] = versions.StateContracted
	}
	return nil
}

func hasRelease(steps []Step, rel versions.Version) bool {
	for _, s := range steps {
		if s.Migration.ID.Release == rel {
			return true
		}
	}
	return false
}

// advance moves a release forward to `to` unless it is already there or
// beyond (expand of a release that was expanded earlier adds migrations
// without moving its state back).
func (r *Runner) advance(ctx context.Context, db *gorm.DB, v *view, rel versions.Version, to versions.State) error {
	from := v.state(rel)
	if from == to || !versions.CanTransition(from, to) && stateRank(from) >= stateRank(to) {
		return nil
	}
	if err := store.Transition(ctx, db, rel, to, "by "+string(phaseOf(to))); err != nil {
		return err
	}
	v.states[rel] = to
	return nil
}

func phaseOf(s versions.State) string {
	if s == versions.StateContracted {
		return "contract"
	}
	return "expand"
}

func stateRank(s versions.State) int {
	for i, x := range versions.States() {
		if x == s {
			return i
		}
	}
	return -1
}

func (r *Runner) contract(ctx context.Context, db *gorm.DB, v *view, target versions.Version, rep *Report) error {
	steps := v.pending(r.dialect, versions.PhaseContract, target)
	for _, rel := range r.src.Releases() {
		if rel.Compare(target) > 0 {
			break
		}
		st := v.state(rel)
		if st == versions.StateContracted && !hasRelease(steps, rel) {
			continue
		}
		if st != versions.StateContracted {
			if err := r.contractRelease(ctx, db, v, rel, target, steps, rep); err != nil {
				return err
			}
			continue
		}
		// Contract migrations added to a release already contracted.
		if err := r.applyRelease(ctx, db, rel, steps, rep); err != nil {
			return err
		}
	}
	return store.Journal(ctx, db, "contract", target, fmt.Sprintf("applied %v", rep.Applied))
}

// contractRelease is the one place where the contract of a release is
// allowed or refused (the gate), and where the database is made to enforce
// coverage while the contract's DDL runs.
func (r *Runner) contractRelease(ctx context.Context, db *gorm.DB, v *view, rel, target versions.Version, steps []Step, rep *Report) error {
	if err := r.gate(ctx, db, v, rel, target); err != nil {
		return err
	}
	r.stage("gate passed")
	if r.allowDrops {
		if err := store.Journal(ctx, db, "override", rel, "contract allowed to drop or alter columns no model declares deprecated"); err != nil {
			return err
		}
	}
	tables, err := r.tablesOn(ctx, db)
	if err != nil {
		return err
	}
	undo, err := r.enforceCoverage(ctx, db, rel, tables)
	if err != nil {
		if cerr := undo(); cerr != nil {
			r.logf("remove coverage enforcement: %v", cerr)
		}
		return err
	}
	r.stage("coverage enforced")
	err = r.archiveDeprecated(ctx, db, rel)
	if err == nil {
		r.stage("archived")
		err = r.applyRelease(ctx, db, rel, steps, rep)
	}
	if err == nil {
		r.stage("contract migrations applied")
	}
	if cerr := undo(); cerr != nil && err == nil {
		err = fmt.Errorf("migrations: remove coverage enforcement after the contract of %s: %w", rel, cerr)
	}
	if err != nil {
		return err
	}
	return r.advance(ctx, db, v, rel, versions.StateContracted)
}

func (r *Runner) applyRelease(ctx context.Context, db *gorm.DB, rel versions.Version, steps []Step, rep *Report) error {
	for _, s := range steps {
		if s.Migration.ID.Release == rel {
			if err := r.apply(ctx, db, s); err != nil {
				return err
			}
			rep.Applied = append(rep.Applied, s.ID)
		}
	}
	return nil
}

// requireDone refuses `phase` while migrations of `need` up to target are pending.
func (r *Runner) requireDone(v *view, phase versions.Phase, target versions.Version, need versions.Phase) error {
	pending := v.pending(r.dialect, need, target)
	if len(pending) == 0 {
		return nil
	}
	ids := make([]versions.MigrationID, len(pending))
	for i, s := range pending {
		ids[i] = s.Migration.ID
	}
	code := ExitExpandPending
	if need == versions.PhaseMigrate {
		code = ExitMigratePending
	}
	return &OrderError{Phase: phase, Release: target, Pending: ids, Need: need, Code: code}
}

// verify refuses to run when an applied migration's content changed, or a
// partly applied one changed before `repair` accepted it.
func (r *Runner) verify(v *view) error {
	var changed []ChecksumChange
	for id, row := range v.rows {
		m, ok := r.src.Lookup(id)
		if !ok || row.Status == store.StatusBaselined {
			continue
		}
		if row.Status != store.StatusApplied && !partlyApplied(row) {
			continue
		}
		if cur := m.Checksum(r.dialect); cur != row.Checksum {
			changed = append(changed, ChecksumChange{ID: id, File: m.File(r.dialect), Recorded: row.Checksum, Current: cur})
		}
	}
	if len(changed) == 0 {
		return nil
	}
	sortChanges(changed)
	return &ChecksumError{Changed: changed}
}

// partlyApplied reports whether a migration stopped (failed, or was
// interrupted while running) after committing some of its statements.
func partlyApplied(row store.Migration) bool {
	return (row.Status == store.StatusFailed || row.Status == store.StatusRunning) && row.StatementsDone > 0
}

func sortChanges(c []ChecksumChange) {
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j].ID.Less(c[j-1].ID); j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
}
