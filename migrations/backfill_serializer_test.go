package migrations_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// PrefSerV2 moves the theme out of settings, a map that GORM stores as JSON
// text through its serializer.
type PrefSerV2 struct {
	ID       int64          `gorm:"primaryKey;autoIncrement:false"`
	Settings map[string]any `gorm:"serializer:json" tandem:"deprecated=2.0"`
	Theme    string         `gorm:"size:20" tandem:"added=2.0"`
	model.Stamp
}

func (PrefSerV2) TableName() string { return "sprefs" }

func (p *PrefSerV2) TandemUpgrade(versions.Version) error {
	p.Theme, _ = p.Settings["theme"].(string)
	return nil
}

func (p *PrefSerV2) TandemDowngrade() error {
	p.Settings = map[string]any{"theme": p.Theme}
	return nil
}

// TestBackfillSerializerField: the Go converter backfill of a model whose
// deprecated field goes through a GORM serializer (JSON text in the
// column): the converter sees the decoded map, the rows get their theme and
// the stamp, and the serialized column keeps its content.
func TestBackfillSerializerField(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		f := files{
			"1.0_baseline.sql":       "CREATE TABLE sprefs (id BIGINT NOT NULL PRIMARY KEY, settings TEXT, obj_version BIGINT NOT NULL DEFAULT 0);\n",
			"2.0_expand01_theme.sql": "ALTER TABLE sprefs ADD COLUMN theme VARCHAR(20);\n",
		}
		r := newRunner(t, db.Gorm, f, migrations.WithModels(&PrefSerV2{}), migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 7}))
		if _, err := r.Expand(ctx, rel20); err != nil {
			t.Fatalf("expand: %v", err)
		}
		registerPerson(t, db.Gorm, &PrefSerV2{})
		for id := 1; id <= 20; id++ {
			db.Exec(t, "INSERT INTO sprefs (id, settings, obj_version) VALUES (?, ?, ?)", id, fmt.Sprintf(`{"x":%d,"theme":"t%d"}`, id, id), st10)
		}
		rep, err := r.Migrate(ctx, rel20)
		if err != nil {
			t.Fatalf("migrate: %v", err)
		}
		for _, b := range rep.Backfill {
			if b.Table == "sprefs" {
				wantEqual(t, "rows converted", b.Rows, int64(20))
				wantEqual(t, "conflicts", b.Conflicts, int64(0))
			}
		}
		concat := "'t' || id"
		if db.Dialect == "mysql" {
			concat = "CONCAT('t', id)"
		}
		wantEqual(t, "rows with their theme and the 2.0 stamp", db.QueryInt(t, "SELECT COUNT(*) FROM sprefs WHERE theme = "+concat+" AND obj_version = ?", st20), int64(20))
		var settings string
		if err := db.Gorm.Raw("SELECT settings FROM sprefs WHERE id = 3").Scan(&settings).Error; err != nil {
			t.Fatal(err)
		}
		// The backfill writes every transitional column back, the
		// serialized one encoded again: the same JSON, keys perhaps in
		// another order.
		var m map[string]any
		if err := json.Unmarshal([]byte(settings), &m); err != nil || len(m) != 2 || m["x"] != float64(3) || m["theme"] != "t3" {
			t.Errorf("settings of row 3 = %s (%v), want x 3 and theme t3", settings, err)
		}
	})
}
