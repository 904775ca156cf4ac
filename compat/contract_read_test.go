package compat_test

import (
	"testing"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// customerV3 is a 3.0 binary's customer: it no longer declares 2.0's
// deprecated Name at all.
type customerV3 struct {
	ID         uint `gorm:"primaryKey"`
	GivenName  string
	FamilyName string
	Email      string
	OrderID    *uint
	model.Stamp
}

func (customerV3) TableName() string { return "customers" }

// TestReadsAcrossContract: a 3.0 instance runs (allowed: every live
// instance runs 2.0 or later) while 2.0's contract drops customers.name.
// Its reads must not change meaning. With SELECT *, the pure-Go SQLite
// driver's first read after the DROP takes the column names of the old
// table and the values of the new one, so values land in the wrong fields;
// the plugin lists the model's columns instead.
func TestReadsAcrossContract(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		v3 := versions.MustParse("3.0")
		customersAt(t, db, relState{v1, versions.StateContracted}, relState{v2, versions.StateContractReady}, relState{v3, versions.StateExpanded})
		g, _ := plugged(t, db, v3, compat.WithModels(&customerV3{}), compat.WithoutListen())
		c := customerV3{GivenName: "Ada", FamilyName: "Lovelace", Email: "ada@example.com"}
		must(t, g.Create(&c).Error)
		prepared := g.Session(&gorm.Session{PrepareStmt: true})
		var before customerV3
		must(t, g.First(&before, c.ID).Error)
		must(t, prepared.First(&before, c.ID).Error)
		db.Exec(t, "ALTER TABLE customers DROP COLUMN name") // 2.0's contract
		for i := 0; i < 2; i++ {
			var got customerV3
			must(t, g.First(&got, c.ID).Error)
			var viaPrepared customerV3
			must(t, prepared.First(&viaPrepared, c.ID).Error)
			if viaPrepared.GivenName != "Ada" || viaPrepared.Email != "ada@example.com" || viaPrepared.ObjVersion != v3.Stamp() {
				t.Errorf("prepared read %d after the contract: %+v", i, viaPrepared)
			}
			if got.GivenName != "Ada" || got.FamilyName != "Lovelace" || got.Email != "ada@example.com" || got.ObjVersion != v3.Stamp() {
				t.Errorf("read %d after the contract: %+v (stamp %d, want %d)", i, got, got.ObjVersion, v3.Stamp())
			}
		}
	})
}

// TestRowScanSurvivesExpand: a 1.0 instance reads a stamped model with
// Row() and scans the columns by position. The plugin lists the model's
// columns, so the statement keeps its shape through an expand that adds a
// column.
func TestRowScanSurvivesExpand(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		must(t, db.Gorm.AutoMigrate(&CustomerV1{}))
		g, _ := plugged(t, db, v1, compat.WithoutListen())
		c := CustomerV1{Name: "Ada Lovelace"}
		must(t, g.Create(&c).Error)
		db.Exec(t, "ALTER TABLE customers ADD COLUMN given_name VARCHAR(100)")
		var (
			id, ver int64
			name    string
			email   string
			order   *int64
		)
		err := g.Model(&CustomerV1{}).Where("id = ?", c.ID).Row().Scan(&id, &name, &email, &order, &ver)
		if err != nil || name != "Ada Lovelace" {
			t.Errorf("Row().Scan after the expand: %q, %v", name, err)
		}
	})
}
