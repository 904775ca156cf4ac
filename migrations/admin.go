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
