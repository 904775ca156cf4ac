package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Table names.
const (
	MigrationsTable = "tandem_migrations"
	ReleasesTable   = "tandem_releases"
	JournalTable    = "tandem_journal"
)

// Migration statuses in the history.
const (
	StatusRunning   = "running"   // started; on MySQL the statements_done column says how far
	StatusApplied   = "applied"   // finished
	StatusFailed    = "failed"    // stopped with an error; the next run retries (resumes on MySQL)
	StatusBaselined = "baselined" // the database was marked as built up to this release
)

// Migration is one row of the migration history.
type Migration struct {
	ID              string     `gorm:"column:id;primaryKey;size:64"`
	Release         string     `gorm:"column:release_name;size:32;not null"`
	ReleaseStamp    int64      `gorm:"column:release_stamp;not null"`
	Phase           string     `gorm:"column:phase;size:16;not null"`
	Seq             int        `gorm:"column:seq;not null"`
	Kind            string     `gorm:"column:kind;size:16;not null"`
	Checksum        string     `gorm:"column:checksum;size:80;not null"`
	Dialect         string     `gorm:"column:dialect;size:16;not null"`
	StartedAt       time.Time  `gorm:"column:started_at;not null"`
	FinishedAt      *time.Time `gorm:"column:finished_at"`
	DurationMS      int64      `gorm:"column:duration_ms;not null;default:0"`
	Actor           string     `gorm:"column:actor;size:255;not null"`
	Status          string     `gorm:"column:status;size:16;not null"`
	StatementsDone  int        `gorm:"column:statements_done;not null;default:0"`
	StatementsTotal int        `gorm:"column:statements_total;not null;default:0"`
	Error           string     `gorm:"column:error_text;type:text"`
}

// TableName implements GORM's tabler.
func (Migration) TableName() string { return MigrationsTable }

// Release is a release's state; the ready-for-contract flag is the state
// contract-ready.
type Release struct {
	Release      string    `gorm:"column:release_name;primaryKey;size:32"`
	ReleaseStamp int64     `gorm:"column:release_stamp;not null"`
	State        string    `gorm:"column:state;size:16;not null"`
	Since        time.Time `gorm:"column:since;not null"`
	Actor        string    `gorm:"column:actor;size:255;not null"`
}

// TableName implements GORM's tabler.
func (Release) TableName() string { return ReleasesTable }

// Event is one entry of the append-only journal.
type Event struct {
	ID      int64     `gorm:"column:id;primaryKey;autoIncrement"`
	At      time.Time `gorm:"column:at;not null;index"`
	Actor   string    `gorm:"column:actor;size:255;not null"`
	Action  string    `gorm:"column:action;size:32;not null"`
	Release string    `gorm:"column:release_name;size:32;not null;default:''"`
	Detail  string    `gorm:"column:detail;type:text"`
}

// TableName implements GORM's tabler.
func (Event) TableName() string { return JournalTable }

// All returns a value of each table's model, in creation order.
func All() []any {
	return []any{&Migration{}, &Release{}, &Event{}, &Instance{}, &ModelSpec{}, &Backfill{}}
}

// Ensure creates the tandem_ tables that do not exist yet, and adds to an
// existing one the columns a later tandem added to it (listed in added). It
// never alters an existing column and never drops anything.
func Ensure(ctx context.Context, db *gorm.DB) error {
	m := db.WithContext(ctx).Migrator()
	for _, t := range All() {
		if m.HasTable(t) {
			for _, col := range added[reflectName(t)] {
				if m.HasColumn(t, col) {
					continue
				}
				if err := m.AddColumn(t, col); err != nil && !m.HasColumn(t, col) {
					return fmt.Errorf("store: add column %s to the %T table: %w", col, t, err)
				}
			}
			continue
		}
		if err := m.CreateTable(t); err != nil {
			return fmt.Errorf("store: create %T table: %w", t, err)
		}
	}
	return nil
}

// added lists, per table model, the columns added after the table's first
// shape, by Go field name.
var added = map[string][]string{
	"*store.Instance": {"FollowsStamp"},
}

func reflectName(t any) string { return fmt.Sprintf("%T", t) }

// Exists reports whether the history table exists, i.e. whether tandem has
// been initialised in this database.
func Exists(ctx context.Context, db *gorm.DB) bool {
	return db.WithContext(ctx).Migrator().HasTable(MigrationsTable)
}
