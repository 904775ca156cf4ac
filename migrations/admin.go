package migrations

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

// Repair accepts the current content of every applied (or partly applied)
// migration whose checksum changed, records the new checksums and journals
// each change. It returns what it accepted.
func (r *Runner) Repair(ctx context.Context) ([]ChecksumChange, error) {
	var accepted []ChecksumChange
	err := r.locked(ctx, func(db *gorm.DB) error {
		v, err := r.readView(ctx, db, r.src.Newest())
		if err != nil {
			return err
		}
		cerr, _ := r.verify(v).(*ChecksumError)
		if cerr == nil {
			return store.Journal(ctx, db, "repair", versions.Version{}, "nothing to repair")
		}
		for _, c := range cerr.Changed {
			err := db.WithContext(ctx).Model(&store.Migration{}).Where("id = ?", c.ID.String()).
				Update("checksum", c.Current).Error
			if err != nil {
				return fmt.Errorf("migrations: repair %s: %w", c.ID, err)
			}
			detail := fmt.Sprintf("accepted new content of %s (%s): %s -> %s", c.ID, c.File, c.Recorded, c.Current)
			if err := store.Journal(ctx, db, "repair", c.ID.Release, detail); err != nil {
				return err
			}
			accepted = append(accepted, c)
		}
		return nil
	})
	return accepted, err
}

// Baseline marks an existing database, built without tandem (for example by
// GORM's AutoMigrate), as being at release rel: the migrations of rel and
// earlier releases count as applied and those releases as contracted. It is
// refused when the database already has a migration history.
func (r *Runner) Baseline(ctx context.Context, rel versions.Version) error {
	rel, err := r.resolve(rel)
	if err != nil {
		return err
	}
	return r.locked(ctx, func(db *gorm.DB) error {
		rows, err := store.History(ctx, db)
		if err != nil {
			return err
		}
		if len(rows) > 0 {
			return fmt.Errorf("%w: %d migration(s) recorded, the first %s\nhint: baseline marks a database that tandem has never managed; use 'tandem status' to see where this one is",
				ErrAlreadyManaged, len(rows), rows[0].ID)
		}
		id := versions.MigrationID{Release: rel, Phase: versions.PhaseBaseline}
		now := store.Now()
		row := &store.Migration{
			ID: id.String(), Release: rel.String(), ReleaseStamp: rel.Stamp(), Phase: id.Phase.String(),
			Kind: string(KindBaseline), Checksum: "marked", Dialect: string(r.dialect),
			StartedAt: now, FinishedAt: &now, Actor: store.Actor(), Status: store.StatusBaselined,
		}
		if err := store.SaveMigration(ctx, db, row); err != nil {
			return err
		}
		for _, k := range r.src.Releases() {
			if k.Compare(rel) <= 0 {
				if err := store.ForceState(ctx, db, k, versions.StateContracted, "marked by baseline "+rel.String()); err != nil {
					return err
				}
			}
		}
		return store.Journal(ctx, db, "baseline", rel, "existing database marked as at "+rel.String())
	})
}

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

// Instances lists the registered instances; live reports, for each, whether
// its heartbeat is current.
func (r *Runner) Instances(ctx context.Context) ([]InstanceStatus, error) {
	insts, err := store.Instances(ctx, r.db.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	now := store.Now()
	out := make([]InstanceStatus, 0, len(insts))
	for _, in := range insts {
		out = append(out, InstanceStatus{Instance: in, Live: in.Live(now)})
	}
	return out, nil
}

// InstanceStatus is one instance with whether it is live.
type InstanceStatus struct {
	store.Instance
	Live bool `json:"live"`
}

// ErrUnknownInstance is returned by Forget for an id the registry lacks.
var ErrUnknownInstance = errors.New("migrations: no such instance")

// Forget removes a dead instance from the registry and journals it. A live
// instance is refused unless force is set (it would register again at its
// next heartbeat anyway). A refusal changes nothing: on a database without
// tandem's tables it does not create them.
func (r *Runner) Forget(ctx context.Context, id string, force bool) error {
	return r.lockedAsFound(ctx, func(db *gorm.DB) error {
		insts, err := store.Instances(ctx, db)
		if err != nil {
			return err
		}
		for _, in := range insts {
			if in.ID != id {
				continue
			}
			if in.Live(store.Now()) && !force {
				return fmt.Errorf("migrations: instance %s is live (last heartbeat %s); it re-registers at its next heartbeat\nhint: stop the process first, or pass --force", id, in.HeartbeatAt.Format(time.RFC3339))
			}
			if err := ensureTables(ctx, db); err != nil {
				return err
			}
			if _, err := store.DeleteInstance(ctx, db, id); err != nil {
				return err
			}
			rel, _ := versions.Parse(in.Release)
			return store.Journal(ctx, db, "forget", rel, fmt.Sprintf("instance %s (pid %d on %s, release %s) removed from the registry", in.ID, in.PID, in.Host, in.Release))
		}
		return fmt.Errorf("%w: %q\nhint: 'tandem instances' lists them", ErrUnknownInstance, id)
	})
}

// ReleaseStatus is one release's row of Status.
type ReleaseStatus struct {
	Release   string              `json:"release"`
	State     versions.State      `json:"state"`
	Mode      string              `json:"mode,omitempty"`
	Heads     string              `json:"heads"`
	AtRelease bool                `json:"at_release"`
	Pending   map[string][]string `json:"pending"`
}

// Status is what `tandem status` shows.
type Status struct {
	Dialect     string           `json:"dialect"`
	Initialized bool             `json:"initialized"`
	Schema      string           `json:"schema_version"`
	Releases    []ReleaseStatus  `json:"releases"`
	LastFailure *store.Migration `json:"last_failure,omitempty"`
	Unknown     []string         `json:"applied_unknown,omitempty"`
	Edited      []string         `json:"edited,omitempty"`
	Baseline    string           `json:"baseline,omitempty"`
	Conflicts   []string         `json:"model_conflicts,omitempty"`
}

// Status reads where the database is, without changing it.
func (r *Runner) Status(ctx context.Context) (*Status, error) {
	db := r.db.WithContext(ctx)
	newest := r.src.Newest()
	v, err := r.readView(ctx, db, newest)
	if err != nil {
		return nil, err
	}
	st := &Status{Dialect: string(r.dialect), Initialized: store.Exists(ctx, db), Schema: v.heads().String()}
	if v.baseline != nil {
		st.Baseline = v.baseline.ID.String() + " (a fresh install starts here)"
	}
	want := r.src.Want()
	have := v.heads()
	for _, rel := range r.src.Releases() {
		rs := ReleaseStatus{Release: rel.String(), State: v.state(rel), Pending: map[string][]string{}}
		rs.Mode = rs.State.Mode()
		rs.Heads = headString(have.Heads(rel))
		rs.AtRelease = have.AtRelease(rel, want)
		for _, ph := range versions.Phases() {
			for _, s := range v.pending(r.dialect, ph, rel) {
				if s.Migration.ID.Release == rel {
					rs.Pending[ph.String()] = append(rs.Pending[ph.String()], s.ID)
				}
			}
		}
		st.Releases = append(st.Releases, rs)
	}
	for _, row := range v.rows {
		if row.Status == store.StatusFailed || row.Status == store.StatusRunning {
			if st.LastFailure == nil || row.StartedAt.After(st.LastFailure.StartedAt) {
				row := row
				st.LastFailure = &row
			}
		}
	}
	models, err := store.Models(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, m := range models {
		if m.Conflict != "" {
			st.Conflicts = append(st.Conflicts, m.Conflict)
		}
	}
	for _, u := range v.unknown {
		st.Unknown = append(st.Unknown, u.ID)
	}
	if cerr, ok := r.verify(v).(*ChecksumError); ok {
		for _, c := range cerr.Changed {
			st.Edited = append(st.Edited, c.ID.String())
		}
	}
	return st, nil
}

func headString(h versions.ReleaseHeads) string {
	var parts []string
	if h.Expand > 0 {
		parts = append(parts, versions.MigrationID{Release: h.Release, Phase: versions.PhaseExpand, Seq: h.Expand}.String())
	}
	if h.Contract > 0 {
		parts = append(parts, versions.MigrationID{Release: h.Release, Phase: versions.PhaseContract, Seq: h.Contract}.String())
	}
	if len(parts) == 0 && h.Baseline {
		parts = append(parts, versions.MigrationID{Release: h.Release, Phase: versions.PhaseBaseline}.String())
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// CheckResult answers `tandem check`: the exit code of the first thing
// pending for the release, why, and what to run next.
type CheckResult struct {
	Release string `json:"release"`
	Code    int    `json:"code"`
	Reason  string `json:"reason"`
	Next    string `json:"next,omitempty"`
}

// Check reports the first thing pending for release target (zero: newest)
// as an exit code: 0 nothing, 3 expand, 4 migrate, 5 the ready-for-contract
// flag, 6 contract; 1 when a migration failed or an applied one was edited.
func (r *Runner) Check(ctx context.Context, target versions.Version) (*CheckResult, error) {
	target, err := r.resolve(target)
	if err != nil {
		return nil, err
	}
	v, err := r.readView(ctx, r.db.WithContext(ctx), target)
	if err != nil {
		return nil, err
	}
	res := &CheckResult{Release: target.String()}
	if err := r.verify(v); err != nil {
		res.Code, res.Reason, res.Next = ExitError, err.Error(), "tandem repair"
		return res, nil
	}
	for _, ph := range versions.Phases() {
		steps := v.pending(r.dialect, ph, target)
		for _, s := range steps {
			if s.Retry {
				row := v.rows[s.Migration.ID]
				res.Code, res.Reason = ExitError, fmt.Sprintf("%s failed: %s", s.ID, firstLine(row.Error))
				res.Next = fmt.Sprintf("fix it, then tandem %s --release %s", ph, target)
				return res, nil
			}
		}
		if len(steps) == 0 {
			if ph == versions.PhaseExpand {
				if rel, st, ok := r.firstBelow(v, target, versions.StateExpanded); ok {
					res.Code = ExitExpandPending
					res.Reason = fmt.Sprintf("release %s is %s: its expand has not completed", rel, st)
					res.Next = fmt.Sprintf("tandem expand --release %s", target)
					return res, nil
				}
			}
			if ph == versions.PhaseMigrate {
				tables, err := r.tablesOn(ctx, r.db.WithContext(ctx))
				if err != nil {
					return nil, err
				}
				for _, t := range tables {
					stale, err := AnyStale(ctx, r.db.WithContext(ctx), t, target)
					if err != nil {
						return nil, err
					}
					if stale {
						res.Code = ExitMigratePending
						res.Reason = fmt.Sprintf("backfill pending: table %s has rows stamped below %s", t.Table, target)
						res.Next = fmt.Sprintf("tandem migrate --release %s", target)
						return res, nil
					}
				}
				if rel, st, ok := r.firstBelow(v, target, versions.StateContractReady); ok {
					res.Code = ExitWaitingFlag
					res.Reason = fmt.Sprintf("release %s is %s, waiting for the ready-for-contract flag", rel, st)
					res.Next = fmt.Sprintf("tandem flag set --release %s contract-ready", rel)
					return res, nil
				}
			}
			continue
		}
		res.Code = map[versions.Phase]int{versions.PhaseExpand: ExitExpandPending, versions.PhaseMigrate: ExitMigratePending, versions.PhaseContract: ExitContractPending}[ph]
		res.Reason = fmt.Sprintf("%s pending: %d migration(s), next %s", ph, len(steps), steps[0].ID)
		res.Next = fmt.Sprintf("tandem %s --release %s", ph, target)
		return res, nil
	}
	if rel, st, ok := r.firstBelow(v, target, versions.StateContracted); ok {
		res.Code = ExitContractPending
		res.Reason = fmt.Sprintf("release %s is %s; its contract has not run", rel, st)
		res.Next = fmt.Sprintf("tandem contract --release %s", rel)
		return res, nil
	}
	res.Reason = "nothing pending: the database is at " + target.String()
	return res, nil
}

// firstBelow returns the first release up to target whose state has not
// reached `want`.
func (r *Runner) firstBelow(v *view, target versions.Version, want versions.State) (versions.Version, versions.State, bool) {
	for _, rel := range r.src.Releases() {
		if rel.Compare(target) > 0 {
			break
		}
		if st := v.state(rel); stateRank(st) < stateRank(want) {
			return rel, st, true
		}
	}
	return versions.Version{}, "", false
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// History returns the migration history and the newest journal events
// (limit <= 0: all).
func (r *Runner) History(ctx context.Context, limit int) ([]store.Migration, []store.Event, error) {
	db := r.db.WithContext(ctx)
	rows, err := store.History(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	events, err := store.Events(ctx, db, limit)
	return rows, events, err
}
