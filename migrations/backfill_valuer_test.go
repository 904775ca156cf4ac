package migrations_test

import (
	"context"
	"database/sql/driver"
	"fmt"
	"testing"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// btPoint encodes itself for writes through GORM's Valuer interface
// (GormValue, as in GORM's "Customize Data Types" docs), not through
// database/sql's driver.Valuer.
type btPoint struct{ X, Y int64 }

func (btPoint) GormDataType() string { return "varchar(50)" }

func (p btPoint) GormValue(context.Context, *gorm.DB) clause.Expr {
	return clause.Expr{SQL: "?", Vars: []any{fmt.Sprintf("%d,%d", p.X, p.Y)}}
}

func (p *btPoint) Scan(v any) error {
	switch s := v.(type) {
	case nil:
		*p = btPoint{}
		return nil
	case []byte:
		_, err := fmt.Sscanf(string(s), "%d,%d", &p.X, &p.Y)
		return err
	case string:
		_, err := fmt.Sscanf(s, "%d,%d", &p.X, &p.Y)
		return err
	}
	return fmt.Errorf("btPoint: cannot scan %T", v)
}

// BtPlaceV2 moves the point from a plain text column to a column written
// through the point type.
type BtPlaceV2 struct {
	ID    int64   `gorm:"primaryKey;autoIncrement:false"`
	OldXY string  `gorm:"size:50" tandem:"deprecated=2.0"`
	XY    btPoint `tandem:"added=2.0"`
	model.Stamp
}

func (BtPlaceV2) TableName() string { return "btplaces" }

func (p *BtPlaceV2) TandemUpgrade(versions.Version) error {
	_, err := fmt.Sscanf(p.OldXY, "%d %d", &p.XY.X, &p.XY.Y)
	return err
}

func (p *BtPlaceV2) TandemDowngrade() error {
	p.OldXY = fmt.Sprintf("%d %d", p.XY.X, p.XY.Y)
	return nil
}

// TestBackfillGormValuer: a transitional field whose type writes itself
// through gorm.Valuer (GormValue) is written by the backfill as GORM's own
// writes write it, not handed to the driver as a struct.
func TestBackfillGormValuer(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r := expandedTable(t, db, "btplaces", "old_xy VARCHAR(50)", "xy VARCHAR(50)", &BtPlaceV2{}, migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 4}))
		for id := 1; id <= 10; id++ {
			db.Exec(t, "INSERT INTO btplaces (id, old_xy, obj_version) VALUES (?, ?, ?)", id, fmt.Sprintf("%d %d", id, -id), st10)
		}
		// GORM itself writes the type fine.
		if err := db.Gorm.Save(&BtPlaceV2{ID: 100, OldXY: "1 2", XY: btPoint{1, 2}, Stamp: model.Stamp{ObjVersion: st20}}).Error; err != nil {
			t.Fatalf("GORM Save of the model: %v", err)
		}
		if _, err := r.Migrate(ctx, rel20); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		wantEqual(t, "rows with xy = 'id,-id' and the 2.0 stamp",
			db.QueryInt(t, "SELECT COUNT(*) FROM btplaces WHERE id <= 10 AND xy IS NOT NULL AND obj_version = ?", st20), int64(10))
		var xy string
		if err := db.Gorm.Raw("SELECT xy FROM btplaces WHERE id = 3").Scan(&xy).Error; err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "xy of row 3", xy, "3,-3")
	})
}

// btTagged implements both interfaces: GORM's writes use GormValue
// ("gorm:" prefix), database/sql uses Value ("driver:" prefix).
type btTagged struct{ S string }

func (btTagged) GormDataType() string { return "varchar(50)" }

func (v btTagged) GormValue(context.Context, *gorm.DB) clause.Expr {
	return clause.Expr{SQL: "?", Vars: []any{"gorm:" + v.S}}
}

func (v btTagged) Value() (driver.Value, error) { return "driver:" + v.S, nil }

func (v *btTagged) Scan(src any) error {
	switch s := src.(type) {
	case nil:
		v.S = ""
	case []byte:
		v.S = string(s)
	case string:
		v.S = s
	}
	return nil
}

type BtTaggedV2 struct {
	ID  int64    `gorm:"primaryKey;autoIncrement:false"`
	Old string   `gorm:"size:50" tandem:"deprecated=2.0"`
	New btTagged `tandem:"added=2.0"`
	model.Stamp
}

func (BtTaggedV2) TableName() string { return "bttagged" }

func (m *BtTaggedV2) TandemUpgrade(versions.Version) error { m.New = btTagged{S: m.Old}; return nil }
func (m *BtTaggedV2) TandemDowngrade() error               { m.Old = m.New.S; return nil }

// TestBackfillGormValuerBeforeValuer: for a type with both GormValue and
// Value, the backfill writes what GormValue returns, as GORM's Save and
// Create (and the compat plugin's writes) do, not what Value returns.
func TestBackfillGormValuerBeforeValuer(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r := expandedTable(t, db, "bttagged", "old VARCHAR(50)", "new VARCHAR(50)", &BtTaggedV2{})
		db.Exec(t, "INSERT INTO bttagged (id, old, obj_version) VALUES (1, 'a', ?)", st10)
		if err := db.Gorm.Create(&BtTaggedV2{ID: 2, Old: "a", New: btTagged{S: "a"}, Stamp: model.Stamp{ObjVersion: st20}}).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := r.Migrate(ctx, rel20); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		var byGorm, byBackfill string
		if err := db.Gorm.Raw("SELECT new FROM bttagged WHERE id = 2").Scan(&byGorm).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Gorm.Raw("SELECT new FROM bttagged WHERE id = 1").Scan(&byBackfill).Error; err != nil {
			t.Fatal(err)
		}
		if byBackfill != byGorm {
			t.Errorf("the backfill wrote %q, GORM's Create %q for the same value", byBackfill, byGorm)
		}
	})
}

// BtSoftV2 is a soft-deletable model: GORM's Find skips rows whose
// deleted_at is set.
type BtSoftV2 struct {
	ID        int64  `gorm:"primaryKey;autoIncrement:false"`
	Old       string `gorm:"size:50" tandem:"deprecated=2.0"`
	New       string `gorm:"size:50" tandem:"added=2.0"`
	DeletedAt gorm.DeletedAt
	model.Stamp
}

func (BtSoftV2) TableName() string { return "btsoft" }

func (m *BtSoftV2) TandemUpgrade(versions.Version) error { m.New = m.Old; return nil }
func (m *BtSoftV2) TandemDowngrade() error               { m.Old = m.New; return nil }

// TestBackfillSoftDeletedRows: the Go backfill converts soft-deleted rows
// too (its read of the models is unscoped): the contract drops their
// deprecated column as well, and the gate counts their stamps.
func TestBackfillSoftDeletedRows(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r := expandedTable(t, db, "btsoft", "old VARCHAR(50), deleted_at TIMESTAMP NULL", "new VARCHAR(50)", &BtSoftV2{})
		db.Exec(t, "INSERT INTO btsoft (id, old, obj_version) VALUES (1, 'a', ?), (3, 'c', ?)", st10, st10)
		db.Exec(t, "INSERT INTO btsoft (id, old, deleted_at, obj_version) VALUES (2, 'b', CURRENT_TIMESTAMP, ?)", st10)
		rep, err := r.Migrate(ctx, rel20)
		if err != nil {
			t.Fatalf("migrate: %v", err)
		}
		for _, b := range rep.Backfill {
			if b.Table == "btsoft" {
				wantEqual(t, "rows converted", b.Rows, int64(3))
				wantEqual(t, "rows left", b.Remaining, int64(0))
			}
		}
		wantEqual(t, "rows still below 2.0", db.QueryInt(t, "SELECT COUNT(*) FROM btsoft WHERE obj_version < ?", st20), int64(0))
		wantEqual(t, "soft-deleted row converted and still deleted",
			db.QueryInt(t, "SELECT COUNT(*) FROM btsoft WHERE id = 2 AND new = 'b' AND deleted_at IS NOT NULL"), int64(1))
	})
}
