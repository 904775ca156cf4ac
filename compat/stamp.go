package compat

import (
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tandemdb/tandem/model"
)

// stampCreate runs before gorm:create for stamped models.
func (p *Plugin) stampCreate(db *gorm.DB) {
	if db.Error != nil || p.specFor(db) == nil {
		return
	}
	v := p.stampValue()
	db.Statement.SetColumn(model.StampColumn, v, true)
	keepStampColumn(db.Statement)
	stampUpsert(db.Statement, v)
}

// stampUpdate runs before gorm:update for stamped models.
func (p *Plugin) stampUpdate(db *gorm.DB) {
	if db.Error != nil || p.specFor(db) == nil {
		return
	}
	db.Statement.SetColumn(model.StampColumn, p.stampValue(), true)
	keepStampColumn(db.Statement)
}

// keepStampColumn makes sure obj_version is written even when the caller
// restricted the columns with Select or Omit.
func keepStampColumn(stmt *gorm.Statement) {
	if len(stmt.Omits) > 0 {
		omits := stmt.Omits[:0:0]
		for _, o := range stmt.Omits {
			if !isStampName(stmt, o) {
				omits = append(omits, o)
			}
		}
		stmt.Omits = omits
	}
	if len(stmt.Selects) == 0 {
		return
	}
	for _, s := range stmt.Selects {
		if s == "*" || isStampName(stmt, s) {
			return
		}
	}
	stmt.Selects = append(stmt.Selects, model.StampColumn)
}

func isStampName(stmt *gorm.Statement, name string) bool {
	if name == model.StampColumn {
		return true
	}
	f := stmt.Schema.LookUpField(name)
	return f != nil && f.DBName == model.StampColumn
}

// stampUpsert adds obj_version to the update part of an ON CONFLICT clause
// that names its columns; UpdateAll already covers it.
func stampUpsert(stmt *gorm.Statement, v int64) {
	c, ok := stmt.Clauses["ON CONFLICT"]
	if !ok {
		return
	}
	oc, ok := c.Expression.(clause.OnConflict)
	if !ok || oc.DoNothing || oc.UpdateAll || len(oc.DoUpdates) == 0 {
		return
	}
	set := make(clause.Set, 0, len(oc.DoUpdates)+1)
	for _, a := range oc.DoUpdates {
		if a.Column.Name != model.StampColumn {
			set = append(set, a)
		}
	}
	oc.DoUpdates = append(set, clause.Assignment{Column: clause.Column{Name: model.StampColumn}, Value: v})
	c.Expression = oc
	stmt.Clauses["ON CONFLICT"] = c
}
