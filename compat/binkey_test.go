package compat_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// TagV1 and TagV2 are keyed by bytes; 2.0 replaces Name with Upper.
type TagV1 struct {
	ID   []byte `gorm:"primaryKey;size:16"`
	Name string `gorm:"size:50"`
	model.Stamp
}

func (TagV1) TableName() string { return "tags" }

type TagV2 struct {
	ID    []byte `gorm:"primaryKey;size:16"`
	Name  string `gorm:"size:50" tandem:"deprecated=2.0"`
	Upper string `gorm:"size:50" tandem:"added=2.0"`
	model.Stamp
}

func (TagV2) TableName() string { return "tags" }

func (t *TagV2) TandemUpgrade(versions.Version) error { t.Upper = strings.ToUpper(t.Name); return nil }
func (t *TagV2) TandemDowngrade() error               { t.Name = strings.ToLower(t.Upper); return nil }

// TestBytesKeyInContractMode: in L(c), a row still stamped 1.0 is upgraded
// from a re-read of its hidden column by key; a []byte key is bound as one
// value there (GORM spreads a slice bound right after "(").
func TestBytesKeyInContractMode(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		must(t, db.Gorm.AutoMigrate(&TagV1{}))
		must(t, store.Ensure(ctx, db.Gorm))
		must(t, store.ForceState(ctx, db.Gorm, v1, versions.StateContracted, "test setup"))
		key := []byte{0x01, 0x28, 0x3f, 0x00, 0xff}
		must(t, db.Gorm.Exec("INSERT INTO tags (id, name, obj_version) VALUES ( ?, ?, ?)", key, "go", v1.Stamp()).Error)
		must(t, db.Gorm.AutoMigrate(&TagV2{}))
		must(t, store.Transition(ctx, db.Gorm, v2, versions.StateExpanding, "test"))
		must(t, store.Transition(ctx, db.Gorm, v2, versions.StateExpanded, "test"))
		must(t, store.Transition(ctx, db.Gorm, v2, versions.StateContractReady, "test"))
		cur, p2 := plugged(t, db, v2, compat.WithModels(&TagV2{}))
		if p2.Mode() != compat.ModeContract {
			t.Fatalf("mode %s", p2.Mode())
		}
		var got TagV2
		must(t, cur.First(&got, "id = ?", key).Error)
		if got.Upper != "GO" || got.Name != "" || string(got.ID) != string(key) {
			t.Errorf("L(c) read of a 1.0 row keyed by bytes: %+v", got)
		}
	})
}
