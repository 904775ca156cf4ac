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

// History returns every migration row, ordered by release, phase and number.
// A database without the tables has an empty history.
func History(ctx context.Context, db *gorm.DB) ([]Migration, error) {
	if !Exists(ctx, db) {
		return nil, nil
	}
	var rows []Migration
	err := db.WithContext(ctx).Order("release_stamp, seq, id").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("store: read history: %w", err)
	}
	return rows, nil
}

// SaveMigration inserts or replaces one history row.
func SaveMigration(ctx context.Context, db *gorm.DB, m *Migration) error {
	err := db.WithContext(ctx).Clauses(clause.OnConflict{UpdateAll: true}).Create(m).Error
	if err != nil {
		return fmt.Errorf("store: record migration %s: %w", m.ID, err)
	}
	return nil
}

// SetProgress records how many statements of a running migration completed.
func SetProgress(ctx context.Context, db *gorm.DB, id string, done int) error {
	err := db.WithContext(ctx).Model(&Migration{}).Where("id = ?", id).
		Update("statements_done", done).Error
	if err != nil {
		return fmt.Errorf("store: record progress of %s: %w", id, err)
	}
	return nil
}

// ReleaseStates returns the state of every release the database knows,
// ordered by release.
func ReleaseStates(ctx context.Context, db *gorm.DB) ([]Release, error) {
	if !db.WithContext(ctx).Migrator().HasTable(ReleasesTable) {
		return nil, nil
	}
	var rows []Release
	if err := db.WithContext(ctx).Order("release_stamp").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: read release states: %w", err)
	}
	return rows, nil
}

// LoadReleaseStates is ReleaseStates for callers that know the table exists
// (it skips the catalog lookup; the compat plugin polls with it).
func LoadReleaseStates(ctx context.Context, db *gorm.DB) ([]Release, error) {
	var rows []Release
	if err := db.WithContext(ctx).Order("release_stamp").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: read release states: %w", err)
	}
	return rows, nil
}

// State returns the state of release r; a release the database does not
// know is pending.
func State(ctx context.Context, db *gorm.DB, r versions.Version) (versions.State, error) {
	var row Release
	err := db.WithContext(ctx).Where("release_name = ?", r.String()).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return versions.StatePending, nil
	}
	if err != nil {
		return "", fmt.Errorf("store: read state of %s: %w", r, err)
	}
	return versions.ParseState(row.State)
}

// Transition moves release r from its current state to `to`, refusing an
// illegal move with *versions.TransitionError, and journals it. A move to
// the current state changes nothing.
func Transition(ctx context.Context, db *gorm.DB, r versions.Version, to versions.State, detail string) error {
	from, err := State(ctx, db, r)
	if err != nil {
		return err
	}
	if from == to {
		return nil
	}
	if err := versions.Transition(r, from, to); err != nil {
		return err
	}
	return ForceState(ctx, db, r, to, fmt.Sprintf("%s -> %s %s", from, to, detail))
}

// ForceState sets release r's state without checking the state machine
// (baselines use it) and journals it.
func ForceState(ctx context.Context, db *gorm.DB, r versions.Version, to versions.State, detail string) error {
	row := Release{Release: r.String(), ReleaseStamp: r.Stamp(), State: string(to), Since: Now(), Actor: Actor()}
	if err := db.WithContext(ctx).Clauses(clause.OnConflict{UpdateAll: true}).Create(&row).Error; err != nil {
		return fmt.Errorf("store: set state of %s to %s: %w", r, to, err)
	}
	if db.Dialector.Name() == "postgres" {
		// Instances listening on the channel reload at once (at commit).
		if err := db.WithContext(ctx).Exec("SELECT pg_notify(?, ?)", NotifyChannel, r.String()).Error; err != nil {
			return fmt.Errorf("store: notify state change of %s: %w", r, err)
		}
	}
	return Journal(ctx, db, "state", r, detail)
}

// NotifyChannel is the PostgreSQL channel on which state changes are
// announced to running instances.
const NotifyChannel = "tandem_state"

// Journal appends an event.
func Journal(ctx context.Context, db *gorm.DB, action string, r versions.Version, detail string) error {
	ev := Event{At: Now(), Actor: Actor(), Action: action, Detail: detail}
	if !r.IsZero() {
		ev.Release = r.String()
	}
	if err := db.WithContext(ctx).Create(&ev).Error; err != nil {
		return fmt.Errorf("store: journal %s: %w", action, err)
	}
	return nil
}

// Events returns the journal, oldest first; limit > 0 keeps the newest
// limit events.
func Events(ctx context.Context, db *gorm.DB, limit int) ([]Event, error) {
	if !db.WithContext(ctx).Migrator().HasTable(JournalTable) {
		return nil, nil
	}
	var rows []Event
	q := db.WithContext(ctx).Order("id DESC")
	if limit > 0 {
		q = q.Limit(limit)
	}
	if err := q.Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: read journal: %w", err)
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	return rows, nil
}

// Now is the time recorded in tandem's tables: UTC, to the millisecond.
func Now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
