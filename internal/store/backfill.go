package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// BackfillTable holds the backfill cursors.
const BackfillTable = "tandem_backfill"

// Backfill is the persisted progress of the backfill of one table towards
// one release: where the keyset cursor is, and the counts. It is saved in
// the same transaction as each batch, so a crash resumes exactly there.
type Backfill struct {
	Release    string    `gorm:"column:release_name;primaryKey;size:32"`
	Table      string    `gorm:"column:table_name;primaryKey;size:128"`
	Kind       string    `gorm:"column:kind;size:16;not null"`
	Cursor     string    `gorm:"column:cursor_key;type:text"` // JSON array of the last primary key done; "" = from the start
	Pass       int       `gorm:"column:pass;not null;default:0"`
	RowsDone   int64     `gorm:"column:rows_done;not null;default:0"`
	Conflicts  int64     `gorm:"column:conflicts;not null;default:0"`
	Batches    int64     `gorm:"column:batches;not null;default:0"`
	BatchSize  int       `gorm:"column:batch_size;not null;default:0"`
	Status     string    `gorm:"column:status;size:16;not null"` // running, done
	StartedAt  time.Time `gorm:"column:started_at;not null"`
	UpdatedAt  time.Time `gorm:"column:updated_at;not null"`
	LastReport string    `gorm:"column:last_report;type:text"`
}

// TableName implements GORM's tabler.
func (Backfill) TableName() string { return BackfillTable }

// LoadBackfill returns the progress of a table's backfill, or nil.
func LoadBackfill(ctx context.Context, db *gorm.DB, release, table string) (*Backfill, error) {
	var b Backfill
	err := db.WithContext(ctx).Where("release_name = ? AND table_name = ?", release, table).Take(&b).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: read backfill cursor of %s: %w", table, err)
	}
	return &b, nil
}

// SaveBackfill inserts or replaces a backfill's progress.
func SaveBackfill(ctx context.Context, db *gorm.DB, b *Backfill) error {
	if err := db.WithContext(ctx).Clauses(clause.OnConflict{UpdateAll: true}).Create(b).Error; err != nil {
		return fmt.Errorf("store: save backfill cursor of %s: %w", b.Table, err)
	}
	return nil
}

// Backfills returns every backfill's progress.
func Backfills(ctx context.Context, db *gorm.DB) ([]Backfill, error) {
	if !db.WithContext(ctx).Migrator().HasTable(BackfillTable) {
		return nil, nil
	}
	var rows []Backfill
	if err := db.WithContext(ctx).Order("release_name, table_name").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("store: read backfills: %w", err)
	}
	return rows, nil
}
