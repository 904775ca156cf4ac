package migrations

// The ready-for-contract flag (SetState, 'tandem flag set') and the
// refusals that guard it, the flip back and the expand: each lists what
// stands in the way.

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

// SetState moves a release to a new state under the runner's lock and
// journals it; illegal moves are refused with *versions.TransitionError.
// Operators reach it as `tandem flag set`. A refusal changes nothing: on a
// database without tandem's tables it does not create them. Once the
// ready-for-contract flag is set it reads the instances again, and sets
// the flag back (see recheckFlag) when an instance of an older release
// registered meanwhile.
func (r *Runner) SetState(ctx context.Context, rel versions.Version, to versions.State) error {
	rel, err := r.resolve(rel)
	if err != nil {
		return err
	}
	set := false // the flag was set by this call
	err = r.lockedAsFound(ctx, func(db *gorm.DB) error {
		v, err := r.readView(ctx, db, rel)
		if err != nil {
			return err
		}
		from := v.state(rel)
		if to == versions.StateContractReady && from != versions.StateContractReady {
			if err := r.flagBlockers(ctx, db, v, rel); err != nil {
				return err
			}
		}
		if err := versions.Transition(rel, from, to); err != nil {
			return err
		}
		// A flip back: 1.x writers will be let in again.
		flipBack := to == versions.StateExpanded && from == versions.StateContractReady
		if flipBack {
			if err := v.flipBackBlockers(rel); err != nil {
				return err
			}
		}
		if err := ensureTables(ctx, db); err != nil {
			return err
		}
		if flipBack {
			return r.flipBack(ctx, db, rel, "by flag set")
		}
		if _, known := v.states[rel]; !known && from != versions.StatePending {
			// A baseline covers the release; record its implicit state first.
			if err := store.ForceState(ctx, db, rel, from, "implied by baseline"); err != nil {
				return err
			}
		}
		if err := store.Transition(ctx, db, rel, to, "by flag set"); err != nil {
			return err
		}
		set = to == versions.StateContractReady && from != versions.StateContractReady
		return nil
	})
	if err != nil || !set {
		return err
	}
	return r.recheckFlag(ctx, rel)
}

// flipBack moves rel from contract-ready back to expanded, once
// flipBackBlockers allowed it: it drops the coverage enforcement a killed
// contract left, so that the older release's writers let back in are not
// refused, and journals the move with detail.
func (r *Runner) flipBack(ctx context.Context, db *gorm.DB, rel versions.Version, detail string) error {
	tables, err := r.tablesOn(ctx, db)
	if err != nil {
		return err
	}
	if err := r.removeLeftoverEnforcement(ctx, db, rel, tables); err != nil {
		return err
	}
	return store.Transition(ctx, db, rel, versions.StateExpanded, detail)
}

// recheckFlag closes the race between setting the flag of rel and the
// start of an instance of an older release: such an instance may pass the
// start-up guard before the flag is set and register only after
// flagBlockers read the instances. Once the flag has committed (on SQLite,
// when the lock's transaction ends), recheckFlag reads the instances
// again; if such an instance is live, it sets the flag back to migrating
// and returns a *FlagRefusal naming it. The compat plugin reads the states
// again after it registers, so of an instance and a flag set that overlap,
// at least one sees the other and backs off.
func (r *Runner) recheckFlag(ctx context.Context, rel versions.Version) error {
	insts, err := store.Instances(ctx, r.db.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("migrations: the flag of %s was set; read the instances again: %w", rel, err)
	}
	now := store.Now()
	ref := &FlagRefusal{Release: rel}
	var ids []string
	for _, in := range insts {
		if in.Live(now) && in.ReleaseStamp < rel.Stamp() {
			ref.Instances = append(ref.Instances, in)
			ref.Reasons = append(ref.Reasons, olderInstanceReason(in, now))
			ids = append(ids, in.ID)
		}
	}
	if len(ref.Instances) == 0 {
		return nil
	}
	late := fmt.Sprintf("instance(s) %s of an older release registered while the flag was being set", strings.Join(ids, ", "))
	var notBack string
	err = r.locked(ctx, func(db *gorm.DB) error {
		v, err := r.readView(ctx, db, rel)
		if err != nil {
			return err
		}
		if st := v.state(rel); st != versions.StateContractReady {
			notBack = fmt.Sprintf("release %s is now %s", rel, st)
			return nil
		}
		if err := v.flipBackBlockers(rel); err != nil {
			notBack = firstLine(strings.TrimPrefix(err.Error(), "migrations: "))
			return nil
		}
		return r.flipBack(ctx, db, rel, "set back by flag set: "+late)
	})
	if err != nil {
		return fmt.Errorf("migrations: the flag of %s was set, but %s, and setting it back failed: %w\nhint: run 'tandem flag set --release %s migrating'", rel, late, err, rel)
	}
	if notBack != "" {
		ref.Reasons = append(ref.Reasons, fmt.Sprintf("the flag was set, but %s; it was not set back: %s", late, notBack))
		return ref
	}
	ref.SetBack = true
	ref.Reasons = append(ref.Reasons, fmt.Sprintf("the flag was set, but %s; it was set back to migrating", late))
	return ref
}

// flipBackBlockers refuses the flip back of rel to L(m) once the older
// release could not run again: once a newer release's expand has begun
// (its instances do not write rel's deprecated columns, and no refill
// covers their rows; an interrupted expand would be completed later), or
// once a contract migration of rel is applied or partly applied (the
// columns it dropped are gone).
func (v *view) flipBackBlockers(rel versions.Version) error {
	ref := &FlipBackRefusal{Release: rel, Contract: v.contractBegun(rel)}
	for other, st := range v.states {
		if rel.Less(other) && st != versions.StatePending {
			ref.Newer = append(ref.Newer, other)
		}
	}
	sort.Slice(ref.Newer, func(i, j int) bool { return ref.Newer[i].Less(ref.Newer[j]) })
	for _, n := range ref.Newer {
		ref.States = append(ref.States, v.states[n])
	}
	if len(ref.Newer) > 0 || len(ref.Contract) > 0 {
		return ref
	}
	return nil
}

// contractBegun returns, in id order, the contract migrations of rel the
// history records as applied or partly applied (failed or interrupted
// after committing statements), whether or not the source still names
// them.
func (v *view) contractBegun(rel versions.Version) []versions.MigrationID {
	var ids []versions.MigrationID
	for id, row := range v.rows {
		if id.Release == rel && id.Phase == versions.PhaseContract && (row.Status == store.StatusApplied || partlyApplied(row)) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].Less(ids[j]) })
	return ids
}

// FlipBackRefusal refuses to flip a release back to L(m) once the older
// release could not safely run again: a newer release's expand has begun,
// or the release's own contract has begun. It lists every reason at once
// and matches ErrGateRefused (exit code 7).
type FlipBackRefusal struct {
	Release versions.Version
	Newer   []versions.Version // expanding or beyond
	States  []versions.State   // of Newer, in order
	// Contract lists the contract migrations of Release that are applied
	// or partly applied: what they dropped is gone.
	Contract []versions.MigrationID
}

// Error implements error.
func (e *FlipBackRefusal) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migrations: %s cannot be flipped back to migrating:", e.Release)
	if len(e.Contract) > 0 {
		ids := make([]string, len(e.Contract))
		for i, id := range e.Contract {
			ids[i] = id.String()
		}
		fmt.Fprintf(&b, "\n  - its contract has begun: %s applied or partly applied; the columns it dropped are gone, so the older release cannot run again", strings.Join(ids, ", "))
	}
	if len(e.Newer) > 0 {
		names := make([]string, len(e.Newer))
		for i, n := range e.Newer {
			names[i] = n.String()
			if i < len(e.States) {
				names[i] += " (" + string(e.States[i]) + ")"
			}
		}
		fmt.Fprintf(&b, "\n  - the expand of a newer release has begun: %s; that release's instances do not write %s's deprecated columns, so the older release could not safely run again", strings.Join(names, ", "), e.Release)
	}
	if len(e.Contract) > 0 {
		fmt.Fprintf(&b, "\nhint: a flip back is possible only before the contract begins; fix forward, or finish with 'tandem contract --release %s'", e.Release)
	} else {
		b.WriteString("\nhint: a flip back is possible only before a newer release's expand begins; fix forward in a newer release instead")
	}
	return b.String()
}

// Is makes errors.Is(err, ErrGateRefused) true.
func (e *FlipBackRefusal) Is(target error) bool { return target == ErrGateRefused }

// ExpandRefusal refuses an expand that would let a release run beside
// instances two releases older: the instances of release R+1 do not write
// the columns R deprecates, which the instances below R still read. It
// lists every such instance. It matches ErrGateRefused (exit code 7).
type ExpandRefusal struct {
	Release   versions.Version // the release whose expand would begin
	Previous  versions.Version // the release before it
	Instances []store.Instance // live instances below Previous
	// Applied: the refusal came after the release's expand migrations
	// ran (an instance started during them); the release stays expanding.
	Applied bool
}

// Error implements error.
func (e *ExpandRefusal) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migrations: the expand of %s cannot begin: live instances run a release below %s, and %s's instances do not write the columns %s deprecates, which they read:", e.Release, e.Previous, e.Release, e.Previous)
	now := store.Now()
	for _, in := range e.Instances {
		fmt.Fprintf(&b, "\n  - instance %s (pid %d on %s) runs release %s, last heartbeat %s ago", in.ID, in.PID, in.Host, in.Release, now.Sub(in.HeartbeatAt).Round(time.Second))
	}
	if e.Applied {
		fmt.Fprintf(&b, "\nnote: the expand migrations of %s ran; it stays expanding, so its binaries do not start, until an expand completes it", e.Release)
	}
	fmt.Fprintf(&b, "\nhint: roll out %s everywhere first (stop the older instances; if one is dead: tandem instances forget ID), then expand %s", e.Previous, e.Release)
	return b.String()
}

// Is makes errors.Is(err, ErrGateRefused) true.
func (e *ExpandRefusal) Is(target error) bool { return target == ErrGateRefused }

// expandBlockers refuses, before anything changes, an expand that begins a
// release while live instances run a release below the one before it.
func (r *Runner) expandBlockers(ctx context.Context, db *gorm.DB, v *view, target versions.Version) error {
	for _, rel := range r.src.Releases() {
		if target.Less(rel) {
			break
		}
		// A release already expanded may gain migrations; its instances
		// run already, and nothing begins.
		if st := v.state(rel); st == versions.StatePending || st == versions.StateExpanding {
			if err := r.olderInstances(ctx, db, v, rel); err != nil {
				return err
			}
		}
	}
	return nil
}

// olderInstances refuses the expand of rel while a live instance runs a
// release below the one before rel (the newest the source or the database
// names below it). The expand checks again before rel becomes expanded:
// an instance that started while the DDL ran passed the start-up guard
// before rel was expanding.
func (r *Runner) olderInstances(ctx context.Context, db *gorm.DB, v *view, rel versions.Version) error {
	var prev versions.Version
	for _, o := range r.src.Releases() {
		if o.Less(rel) && prev.Less(o) {
			prev = o
		}
	}
	for o := range v.states {
		if o.Less(rel) && prev.Less(o) {
			prev = o
		}
	}
	if prev.IsZero() {
		return nil
	}
	insts, err := store.Instances(ctx, db)
	if err != nil {
		return err
	}
	ref := &ExpandRefusal{Release: rel, Previous: prev}
	now := store.Now()
	for _, in := range insts {
		if in.Live(now) && in.ReleaseStamp < prev.Stamp() {
			ref.Instances = append(ref.Instances, in)
		}
	}
	if len(ref.Instances) > 0 {
		return ref
	}
	return nil
}

// FlagRefusal refuses to set the ready-for-contract flag and lists every
// reason at once. It matches ErrGateRefused (exit code 7).
type FlagRefusal struct {
	Release   versions.Version
	Reasons   []string
	Instances []store.Instance // live instances of older releases
	// SetBack: the flag was set, and set back to migrating because the
	// Instances registered while it was being set.
	SetBack bool
}

// Error implements error.
func (e *FlagRefusal) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migrations: the ready-for-contract flag of %s cannot be set:", e.Release)
	for _, r := range e.Reasons {
		b.WriteString("\n  - " + r)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrGateRefused) true.
func (e *FlagRefusal) Is(target error) bool { return target == ErrGateRefused }

// flagBlockers lists what forbids setting the flag of rel: its expand not
// applied, and live instances of older releases.
func (r *Runner) flagBlockers(ctx context.Context, db *gorm.DB, v *view, rel versions.Version) error {
	ref := &FlagRefusal{Release: rel}
	if st := v.state(rel); st == versions.StatePending || st == versions.StateExpanding {
		ref.Reasons = append(ref.Reasons, fmt.Sprintf("release %s is %s: its expand is not applied; run 'tandem expand --release %s'", rel, st, rel))
	}
	if pending := v.pending(r.dialect, versions.PhaseExpand, rel); len(pending) > 0 {
		ref.Reasons = append(ref.Reasons, fmt.Sprintf("expand pending (%s ...); run 'tandem expand --release %s'", pending[0].ID, rel))
	}
	insts, err := store.Instances(ctx, db)
	if err != nil {
		return err
	}
	now := store.Now()
	for _, in := range insts {
		if in.Live(now) && in.ReleaseStamp < rel.Stamp() {
			ref.Instances = append(ref.Instances, in)
			ref.Reasons = append(ref.Reasons, olderInstanceReason(in, now))
		}
	}
	if len(ref.Reasons) > 0 {
		return ref
	}
	return nil
}

// olderInstanceReason is the reason a live instance of an older release
// gives to refuse the flag.
func olderInstanceReason(in store.Instance, now time.Time) string {
	return fmt.Sprintf("instance %s (pid %d on %s) still runs release %s, last heartbeat %s ago; stop it, or if it is dead run 'tandem instances forget %s'",
		in.ID, in.PID, in.Host, in.Release, now.Sub(in.HeartbeatAt).Round(time.Second), in.ID)
}
