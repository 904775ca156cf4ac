package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tandemdb/tandem/versions"
)

// InstancesTable and ModelsTable name the runtime tables the compat plugin
// writes.
const (
	InstancesTable = "tandem_instances"
	ModelsTable    = "tandem_models"
)

// Instance is one running process that uses the compat plugin. Its
// heartbeat carries the state of its release it has seen: an instance of
// release L that reports contract-ready has acknowledged L(c).
type Instance struct {
	ID           string    `gorm:"column:id;primaryKey;size:64"`
	Host         string    `gorm:"column:host;size:255;not null"`
	PID          int       `gorm:"column:pid;not null"`
	Release      string    `gorm:"column:release_name;size:32;not null"`
	ReleaseStamp int64     `gorm:"column:release_stamp;not null;index"`
	StartedAt    time.Time `gorm:"column:started_at;not null"`
	HeartbeatAt  time.Time `gorm:"column:heartbeat_at;not null"`
	ExpiresAt    time.Time `gorm:"column:expires_at;not null"`
	SeenState    string    `gorm:"column:seen_state;size:16;not null"`
	Mode         string    `gorm:"column:mode;size:8;not null"`
	// FollowsStamp is the stamp of the release whose state SeenState is,
	// when that is not the instance's own: a release whose models declare
	// no change of their own follows the newest release its tags name
	// while that release is expanded or contract-ready. 0: its own.
	FollowsStamp int64 `gorm:"column:follows_stamp;not null;default:0"`
}

// Follows returns the release whose state the instance reported last.
func (i Instance) Follows() versions.Version {
	if i.FollowsStamp != 0 {
		if v, _, err := versions.DecodeStamp(i.FollowsStamp); err == nil {
			return v
		}
	}
	v, _ := versions.Parse(i.Release)
	return v
}

// TableName implements GORM's tabler.
func (Instance) TableName() string { return InstancesTable }

// Live reports whether the instance's last heartbeat has not expired at now.
func (i Instance) Live(now time.Time) bool { return i.ExpiresAt.After(now) }

// Acknowledged reports whether the instance has acknowledged L(c) for
// release r: it runs r or a later release, and, if it follows r's state
// (it runs r, or a later release that runs as r), it has seen r
// contract-ready (or contracted).
func (i Instance) Acknowledged(r versions.Version) bool {
	follows := i.ReleaseStamp
	if i.FollowsStamp != 0 {
		follows = i.FollowsStamp
	}
	switch {
	case i.ReleaseStamp < r.Stamp():
		return false
	case follows == r.Stamp():
		return i.SeenState == string(versions.StateContractReady) || i.SeenState == string(versions.StateContracted)
	default:
		return true
	}
}

// ModelSpec is one model's declaration as an instance of a release
// registered it: table, key, stamp and the lifecycle of its columns, as JSON.
// Conflict is set when another instance of the same release registered a
// different declaration for the table.
type ModelSpec struct {
	Release      string    `gorm:"column:release_name;primaryKey;size:32"`
	Table        string    `gorm:"column:table_name;primaryKey;size:128"`
	ReleaseStamp int64     `gorm:"column:release_stamp;not null"`
	Model        string    `gorm:"column:model;size:128;not null"`
	Spec         string    `gorm:"column:spec;type:text;not null"`
	RegisteredAt time.Time `gorm:"column:registered_at;not null"`
	Instance     string    `gorm:"column:instance_id;size:64;not null"`
	Conflict     string    `gorm:"column:conflict;type:text"`
}

// TableName implements GORM's tabler.
func (ModelSpec) TableName() string { return ModelsTable }

// SaveInstance inserts or refreshes an instance's row.
func SaveInstance(ctx context.Context, db *gorm.DB, in *Instance) error {
	if err := db.WithContext(ctx).Clauses(clause.OnConflict{UpdateAll: true}).Create(in).Error; err != nil {
		return fmt.Errorf("store: heartbeat of instance %s: %w", in.ID, err)
	}
	return nil
}

// DeleteInstance removes an instance's row; it reports whether one existed.
func DeleteInstance(ctx context.Context, db *gorm.DB, id string) (bool, error) {
	res := db.WithContext(ctx).Where("id = ?", id).Delete(&Instance{})
	if res.Error != nil {
		return false, fmt.Errorf("store: remove instance %s: %w", id, res.Error)
	}
	return res.RowsAffected > 0, nil
}

// Instances returns every registered instance, live or stale, oldest first.
func Instances(ctx context.Context, db *gorm.DB) ([]Instance, error) {
	if !db.WithContext(ctx).Migrator().HasTable(InstancesTable) {
		return nil, nil
	}
	var rows []Instance
	if err := db.WithContext(ctx).Order("started_at, id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: read instances: %w", err)
	}
	return rows, nil
}

// RegisterModel records a model's declaration for a release. The first
// declaration of a (release, table) is recorded as it comes. A later one
// that differs from the recorded declaration, or meets a recorded
// conflict, is judged by whether an instance of the release is live in
// tandem_instances (the registering instance is not there yet: the plugin
// registers its models before its first heartbeat):
//
//   - none is: the instances that declared the recorded one have stopped
//     (a redeploy after the odd build is gone). The new declaration
//     replaces the row, any recorded conflict is cleared, and the journal
//     says so.
//   - one is: a different declaration is refused; the recorded one is kept,
//     the conflict is recorded on it, and the returned *ConflictError says
//     so. The same declaration is accepted, and a conflict recorded earlier
//     stays until no instance of the release is live.
func RegisterModel(ctx context.Context, db *gorm.DB, m *ModelSpec) error {
	var conflict *ConflictError
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var prev ModelSpec
		err := tx.Where("release_name = ? AND table_name = ?", m.Release, m.Table).Take(&prev).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return tx.Create(m).Error
		}
		if err != nil {
			return fmt.Errorf("store: read model registry: %w", err)
		}
		if prev.Spec == m.Spec && prev.Conflict == "" {
			return nil
		}
		live, err := liveInstanceOf(ctx, tx, m.Release)
		if err != nil {
			return err
		}
		if live == "" {
			return redeclare(ctx, tx, &prev, m)
		}
		if prev.Spec == m.Spec {
			return nil
		}
		msg := fmt.Sprintf("instance %s of release %s declares table %s differently from instance %s: %s vs %s",
			m.Instance, m.Release, m.Table, prev.Instance, m.Spec, prev.Spec)
		if err := tx.Model(&ModelSpec{}).Where("release_name = ? AND table_name = ?", m.Release, m.Table).
			Update("conflict", msg).Error; err != nil {
			return fmt.Errorf("store: record model conflict: %w", err)
		}
		conflict = &ConflictError{Table: m.Table, Release: m.Release, Detail: msg}
		return nil // commit the record of the conflict
	})
	if err != nil {
		return err
	}
	if conflict != nil {
		return conflict
	}
	return nil
}

// liveInstanceOf returns the id of a live instance of release rel, or "".
func liveInstanceOf(ctx context.Context, db *gorm.DB, rel string) (string, error) {
	insts, err := Instances(ctx, db)
	if err != nil {
		return "", err
	}
	now := Now()
	for _, in := range insts {
		if in.Live(now) && in.Release == rel {
			return in.ID, nil
		}
	}
	return "", nil
}

// redeclare replaces the recorded declaration prev by m, clears its
// conflict, and journals the change.
func redeclare(ctx context.Context, tx *gorm.DB, prev, m *ModelSpec) error {
	err := tx.Model(&ModelSpec{}).Where("release_name = ? AND table_name = ?", m.Release, m.Table).Updates(map[string]any{
		"release_stamp": m.ReleaseStamp, "model": m.Model, "spec": m.Spec, "registered_at": m.RegisteredAt,
		"instance_id": m.Instance, "conflict": "",
	}).Error
	if err != nil {
		return fmt.Errorf("store: replace the declaration of table %s of release %s: %w", m.Table, m.Release, err)
	}
	m.Conflict = ""
	what := "declaration"
	if prev.Spec == m.Spec {
		what = "declaration (unchanged)"
	}
	detail := fmt.Sprintf("instance %s recorded the %s of table %s, replacing that of instance %s: no instance of release %s was live", m.Instance, what, m.Table, prev.Instance, m.Release)
	if prev.Conflict != "" {
		detail += "; conflict cleared: " + prev.Conflict
	}
	rel, _ := versions.Parse(m.Release)
	return Journal(ctx, tx, "model", rel, detail)
}

// ConflictError reports two different declarations of one table by
// instances of the same release.
type ConflictError struct {
	Table, Release, Detail string
}

// Error implements error.
func (e *ConflictError) Error() string {
	return "store: conflicting model declarations: " + e.Detail + "\nhint: every instance of a release must run the same build; redeploy the odd one out (the registry keeps the first declaration while an instance of the release is live; once none is, the next to start records its own)"
}

// Models returns the recorded model declarations, ordered by release and table.
func Models(ctx context.Context, db *gorm.DB) ([]ModelSpec, error) {
	if !db.WithContext(ctx).Migrator().HasTable(ModelsTable) {
		return nil, nil
	}
	var rows []ModelSpec
	if err := db.WithContext(ctx).Order("release_stamp, table_name").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: read model registry: %w", err)
	}
	return rows, nil
}
