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
	Phase    versions.Phase `json:"phase"`
	Target   string         `json:"target"`
	Applied  []string       `json:"applied"`
	Duration time.Duration  `json:"duration_ns"`
	Schema   string         `json:"schema_version"`
}

// Expand applies the pending expand migrations of every release up to target
// (zero: the newest), starting a fresh database from the newest baseline at
// or below target, and moves each release to expanded.
func (r *Runner) Expand(ctx context.Context, target versions.Version) (*Report, error) {
	return r.run(ctx, versions.PhaseExpand, target)
}

// Migrate applies the pending migrate migrations of every release up to
// target. It is refused while an expand up to target is pending.
func (r *Runner) Migrate(ctx context.Context, target versions.Version) (*Report, error) {
	return r.run(ctx, versions.PhaseMigrate, target)
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
	if len(steps) > 0 && steps[0].Migration.Kind == KindBaseline {
		b := steps[0].Migration
		if err := r.apply(ctx, db, steps[0]); err != nil {
			return err
		}
		rep.Applied = append(rep.Applied, steps[0].ID)
		for _, rel := range r.src.Releases() {
			if rel.Compare(b.ID.Release) <= 0 {
				if err := store.ForceState(ctx, db, rel, versions.StateContracted, "built by baseline "+b.ID.String()); err != nil {
					return err
				}
				v.states[rel] = versions.StateContracted
			}
		}
		if err := store.Journal(ctx, db, "baseline", b.ID.Release, "fresh install from "+steps[0].File); err != nil {
			return err
		}
		v.rows[b.ID] = store.Migration{ID: b.ID.String(), Status: store.StatusApplied}
		steps = steps[1:]
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
		if err := r.advance(ctx, db, v, rel, versions.StateExpanded); err != nil {
			return err
		}
	}
	return store.Journal(ctx, db, "expand", target, fmt.Sprintf("applied %v", rep.Applied))
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
	if err := r.requireDone(v, versions.PhaseContract, target, versions.PhaseExpand); err != nil {
		return err
	}
	if err := r.requireDone(v, versions.PhaseContract, target, versions.PhaseMigrate); err != nil {
		return err
	}
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
			if err := r.allowContract(ctx, db, rel, st); err != nil {
				return err
			}
		}
		for _, s := range steps {
			if s.Migration.ID.Release == rel {
				if err := r.apply(ctx, db, s); err != nil {
					return err
				}
				rep.Applied = append(rep.Applied, s.ID)
			}
		}
		if err := r.advance(ctx, db, v, rel, versions.StateContracted); err != nil {
			return err
		}
	}
	return store.Journal(ctx, db, "contract", target, fmt.Sprintf("applied %v", rep.Applied))
}

// allowContract is the one place where the contract of a release is
// allowed or refused: the ready-for-contract flag first, then every gate.
func (r *Runner) allowContract(ctx context.Context, db *gorm.DB, rel versions.Version, st versions.State) error {
	if st != versions.StateContractReady {
		return &FlagError{Release: rel, State: st}
	}
	for _, g := range r.gates {
		if err := g.AllowContract(ctx, db, rel); err != nil {
			return err
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
		partial := (row.Status == store.StatusFailed || row.Status == store.StatusRunning) && row.StatementsDone > 0
		if row.Status != store.StatusApplied && !partial {
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

func sortChanges(c []ChecksumChange) {
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j].ID.Less(c[j-1].ID); j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
}
