package compat_test

import (
	"context"
	"testing"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

type Account struct {
	ID      uint `gorm:"primaryKey"`
	Name    string
	Balance int
	model.Stamp
}

type Note struct {
	ID   uint `gorm:"primaryKey"`
	Text string
	Hits int
}

var release = versions.MustParse("2.0")

// withPlugin returns a session of a new *gorm.DB on the same database with
// the plugin installed for rel.
func withPlugin(t *testing.T, db *dbtest.DB, rel versions.Version, opts ...compat.Option) *gorm.DB {
	t.Helper()
	g, _ := plugged(t, db, rel, opts...)
	return g
}

// plugged opens a new *gorm.DB with the plugin of rel, after marking rel
// expanded if the database does not know it yet (as `tandem expand` would).
func plugged(t *testing.T, db *dbtest.DB, rel versions.Version, opts ...compat.Option) (*gorm.DB, *compat.Plugin) {
	t.Helper()
	ctx := context.Background()
	must(t, store.Ensure(ctx, db.Gorm))
	if s, err := store.State(ctx, db.Gorm, rel); err != nil || s == versions.StatePending {
		must(t, store.ForceState(ctx, db.Gorm, rel, versions.StateExpanded, "test setup"))
	}
	g := db.Open(t)
	p := compat.New(rel, opts...)
	if err := g.Use(p); err != nil {
		t.Fatalf("Use(compat %s): %v", rel, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return g, p
}

func stampOf(t *testing.T, db *dbtest.DB, id uint) int64 {
	t.Helper()
	return db.QueryInt(t, "SELECT obj_version FROM accounts WHERE id = ?", id)
}

func TestStampsEveryWritePath(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		if err := db.Gorm.AutoMigrate(&Account{}); err != nil {
			t.Fatal(err)
		}
		g := withPlugin(t, db, release)
		want := release.Stamp()
		seed := func(t *testing.T, name string) uint {
			t.Helper()
			a := Account{Name: name}
			if err := db.Gorm.Create(&a).Error; err != nil { // no plugin: stamp 0
				t.Fatal(err)
			}
			if got := stampOf(t, db, a.ID); got != 0 {
				t.Fatalf("seed row stamped %d without the plugin", got)
			}
			return a.ID
		}
		conflict := []clause.Column{{Name: "id"}}

		paths := []struct {
			name  string
			write func(t *testing.T) []uint // returns the ids written
		}{
			{"Create", func(t *testing.T) []uint {
				a := Account{Name: "one"}
				must(t, g.Create(&a).Error)
				return []uint{a.ID}
			}},
			{"CreateSlice", func(t *testing.T) []uint {
				as := []Account{{Name: "a"}, {Name: "b"}, {Name: "c"}}
				must(t, g.Create(&as).Error)
				return []uint{as[0].ID, as[1].ID, as[2].ID}
			}},
			{"CreateSliceOfPointers", func(t *testing.T) []uint {
				as := []*Account{{Name: "p"}, {Name: "q"}}
				must(t, g.Create(&as).Error)
				return []uint{as[0].ID, as[1].ID}
			}},
			{"CreateInBatches", func(t *testing.T) []uint {
				as := []Account{{Name: "x"}, {Name: "y"}, {Name: "z"}, {Name: "w"}, {Name: "v"}}
				must(t, g.CreateInBatches(&as, 2).Error)
				var ids []uint
				for _, a := range as {
					ids = append(ids, a.ID)
				}
				return ids
			}},
			{"CreateMapThroughModel", func(t *testing.T) []uint {
				must(t, g.Model(&Account{}).Create(map[string]any{"name": "from-map", "balance": 3}).Error)
				var a Account
				must(t, db.Gorm.Where("name = ?", "from-map").Take(&a).Error)
				return []uint{a.ID}
			}},
			{"CreateWithSelectLeavingStampOut", func(t *testing.T) []uint {
				a := Account{Name: "selected", Balance: 9}
				must(t, g.Select("Name").Create(&a).Error)
				return []uint{a.ID}
			}},
			{"SaveInsert", func(t *testing.T) []uint {
				a := Account{Name: "saved"}
				must(t, g.Save(&a).Error)
				return []uint{a.ID}
			}},
			{"SaveUpdate", func(t *testing.T) []uint {
				id := seed(t, "to-save")
				a := Account{ID: id, Name: "saved-again"}
				must(t, g.Save(&a).Error)
				return []uint{id}
			}},
			{"UpdatesStruct", func(t *testing.T) []uint {
				id := seed(t, "s")
				must(t, g.Model(&Account{ID: id}).Updates(Account{Name: "s2"}).Error)
				return []uint{id}
			}},
			{"UpdatesStructWithSelect", func(t *testing.T) []uint {
				id := seed(t, "sel")
				must(t, g.Model(&Account{ID: id}).Select("Balance").Updates(Account{Balance: 5, Name: "ignored"}).Error)
				if n := db.QueryInt(t, "SELECT COUNT(*) FROM accounts WHERE id = ? AND name = 'sel' AND balance = 5", id); n != 1 {
					t.Errorf("Select was not honoured for the other columns")
				}
				return []uint{id}
			}},
			{"UpdatesMap", func(t *testing.T) []uint {
				id := seed(t, "m")
				must(t, g.Model(&Account{}).Where("id = ?", id).Updates(map[string]any{"balance": 7}).Error)
				return []uint{id}
			}},
			{"UpdatesWithOmitOfStamp", func(t *testing.T) []uint {
				id := seed(t, "o")
				must(t, g.Model(&Account{ID: id}).Omit("obj_version").Updates(map[string]any{"balance": 8}).Error)
				return []uint{id}
			}},
			{"Update", func(t *testing.T) []uint {
				id := seed(t, "u")
				must(t, g.Model(&Account{ID: id}).Update("name", "u2").Error)
				return []uint{id}
			}},
			{"UpdateColumn", func(t *testing.T) []uint {
				id := seed(t, "uc")
				must(t, g.Model(&Account{ID: id}).UpdateColumn("balance", 11).Error)
				return []uint{id}
			}},
			{"UpdateColumns", func(t *testing.T) []uint {
				id := seed(t, "ucs")
				must(t, g.Model(&Account{ID: id}).UpdateColumns(Account{Balance: 12}).Error)
				return []uint{id}
			}},
			{"FirstOrCreateCreates", func(t *testing.T) []uint {
				var a Account
				must(t, g.Where(Account{Name: "foc-new"}).FirstOrCreate(&a).Error)
				return []uint{a.ID}
			}},
			{"FirstOrCreateAssignUpdates", func(t *testing.T) []uint {
				id := seed(t, "foc-old")
				var a Account
				must(t, g.Where(Account{Name: "foc-old"}).Assign(Account{Balance: 13}).FirstOrCreate(&a).Error)
				if a.ID != id {
					t.Fatalf("FirstOrCreate created %d instead of finding %d", a.ID, id)
				}
				return []uint{id}
			}},
			{"UpsertUpdateAll", func(t *testing.T) []uint {
				id := seed(t, "up-all")
				must(t, g.Clauses(clause.OnConflict{Columns: conflict, UpdateAll: true}).Create(&Account{ID: id, Name: "up-all-2"}).Error)
				return []uint{id}
			}},
			{"UpsertDoUpdatesColumns", func(t *testing.T) []uint {
				id := seed(t, "up-cols")
				must(t, g.Clauses(clause.OnConflict{Columns: conflict, DoUpdates: clause.AssignmentColumns([]string{"balance"})}).
					Create(&Account{ID: id, Name: "ignored", Balance: 14}).Error)
				if n := db.QueryInt(t, "SELECT COUNT(*) FROM accounts WHERE id = ? AND name = 'up-cols' AND balance = 14", id); n != 1 {
					t.Errorf("upsert did not update exactly the named columns")
				}
				return []uint{id}
			}},
			{"UpsertDoUpdatesAssignments", func(t *testing.T) []uint {
				id := seed(t, "up-assign")
				must(t, g.Clauses(clause.OnConflict{Columns: conflict, DoUpdates: clause.Assignments(map[string]any{"balance": 15})}).
					Create(&Account{ID: id, Name: "ignored"}).Error)
				return []uint{id}
			}},
			{"UpsertInsertsNewRow", func(t *testing.T) []uint {
				a := Account{Name: "up-new"}
				must(t, g.Clauses(clause.OnConflict{Columns: conflict, DoUpdates: clause.AssignmentColumns([]string{"name"})}).Create(&a).Error)
				return []uint{a.ID}
			}},
		}
		for _, p := range paths {
			t.Run(p.name, func(t *testing.T) {
				ids := p.write(t)
				if len(ids) == 0 {
					t.Fatal("no rows written")
				}
				for _, id := range ids {
					if id == 0 {
						t.Fatal("row without an id")
					}
					if got := stampOf(t, db, id); got != want {
						t.Errorf("row %d: obj_version = %d, want %d (release %s)", id, got, want, release)
					}
				}
			})
		}

		t.Run("UpsertDoNothingLeavesExistingRow", func(t *testing.T) {
			id := seed(t, "nothing")
			must(t, g.Clauses(clause.OnConflict{DoNothing: true}).Create(&Account{ID: id, Name: "ignored"}).Error)
			if got := stampOf(t, db, id); got != 0 {
				t.Errorf("DO NOTHING changed the row's stamp to %d", got)
			}
		})
		t.Run("OtherReleaseStampsItsOwn", func(t *testing.T) {
			old := withPlugin(t, db, versions.MustParse("1.4"))
			a := Account{Name: "by-1.4"}
			must(t, old.Create(&a).Error)
			if got := stampOf(t, db, a.ID); got != versions.MustParse("1.4").Stamp() {
				t.Errorf("1.4 instance stamped %d", got)
			}
			must(t, g.Model(&a).Update("balance", 1).Error)
			if got := stampOf(t, db, a.ID); got != want {
				t.Errorf("2.0 update left stamp %d", got)
			}
		})
	})
}

// TestUnstampedModelsUntouched runs each write path on a model without
// model.Stamp with and without the plugin: the SQL GORM builds and the rows
// that result are the same.
func TestUnstampedModelsUntouched(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		if err := db.Gorm.AutoMigrate(&Note{}); err != nil {
			t.Fatal(err)
		}
		plain := db.Open(t)
		with := withPlugin(t, db, release)
		conflict := []clause.Column{{Name: "id"}}
		ops := []struct {
			name string
			op   func(g *gorm.DB) *gorm.DB
		}{
			{"Create", func(g *gorm.DB) *gorm.DB { return g.Create(&Note{ID: 1, Text: "a"}) }},
			{"CreateSlice", func(g *gorm.DB) *gorm.DB { return g.Create(&[]Note{{ID: 2, Text: "b"}, {ID: 3, Text: "c"}}) }},
			{"Save", func(g *gorm.DB) *gorm.DB { return g.Save(&Note{ID: 1, Text: "a2"}) }},
			{"Updates", func(g *gorm.DB) *gorm.DB { return g.Model(&Note{ID: 2}).Updates(map[string]any{"hits": 4}) }},
			{"Update", func(g *gorm.DB) *gorm.DB { return g.Model(&Note{ID: 3}).Update("text", "c2") }},
			{"UpdateColumn", func(g *gorm.DB) *gorm.DB { return g.Model(&Note{ID: 3}).UpdateColumn("hits", 9) }},
			{"Upsert", func(g *gorm.DB) *gorm.DB {
				return g.Clauses(clause.OnConflict{Columns: conflict, DoUpdates: clause.AssignmentColumns([]string{"text"})}).Create(&Note{ID: 1, Text: "a3"})
			}},
		}
		type row struct {
			ID   uint
			Text string
			Hits int
		}
		for _, o := range ops {
			want := o.op(plain.Session(&gorm.Session{DryRun: true})).Statement
			got := o.op(with.Session(&gorm.Session{DryRun: true})).Statement
			if want.SQL.String() != got.SQL.String() {
				t.Errorf("%s: SQL with the plugin\n  %s\nwithout\n  %s", o.name, got.SQL.String(), want.SQL.String())
			}
			if len(want.Vars) != len(got.Vars) {
				t.Errorf("%s: %d bound values with the plugin, %d without", o.name, len(got.Vars), len(want.Vars))
			}
		}
		// Run them for real on two tables' worth of the same operations.
		for _, o := range ops {
			must(t, o.op(with).Error)
		}
		var rows []row
		must(t, db.Gorm.Table("notes").Order("id").Find(&rows).Error)
		wantRows := []row{{1, "a3", 0}, {2, "b", 4}, {3, "c2", 9}}
		if len(rows) != len(wantRows) {
			t.Fatalf("rows = %+v", rows)
		}
		for i := range rows {
			if rows[i] != wantRows[i] {
				t.Errorf("row %d = %+v, want %+v", i, rows[i], wantRows[i])
			}
		}
		for _, c := range db.Columns(t, "notes") {
			if c == model.StampColumn {
				t.Errorf("the plugin added %s to an unstamped table", c)
			}
		}
	})
}

func TestZeroReleaseRefused(t *testing.T) {
	db := dbtest.New(t, "sqlite")
	if err := db.Open(t).Use(compat.New(versions.Version{})); err != compat.ErrZeroRelease {
		t.Errorf("Use(New(0.0)) = %v, want ErrZeroRelease", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
