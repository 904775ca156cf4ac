package compat

import (
	"fmt"
	"reflect"

	"gorm.io/gorm"
)

// beforeQuery runs before gorm:query: in L(c) it refuses queries that name
// a deprecated field and leaves the deprecated columns out of the SELECT
// list (an explicit column list, never SELECT *).
func (p *Plugin) beforeQuery(db *gorm.DB) {
	pl := p.planFor(db)
	if pl == nil || db.Error != nil {
		return
	}
	st := p.begin(db, pl)
	p.hideColumns(db, pl, st.snap.mode)
}

// beforeRow does the same for Row, Rows and Scan.
func (p *Plugin) beforeRow(db *gorm.DB) {
	p.beforeQuery(db)
}

func (p *Plugin) hideColumns(db *gorm.DB, pl *modelPlan, m Mode) {
	hidden, cols := pl.hiddenIn(m)
	if len(cols) == 0 {
		return
	}
	stmt := db.Statement
	if err := firstErr(pl.checkNames(hidden, stmt.Selects, "Select"), pl.checkNames(hidden, stmt.Omits, "Omit"), pl.checkClauses(hidden, stmt)); err != nil {
		_ = db.AddError(err)
		return
	}
	if _, explicit := stmt.Clauses["SELECT"]; explicit || len(stmt.Selects) > 0 {
		return // the caller chose the columns, none of them hidden
	}
	stmt.Omits = append(append([]string(nil), stmt.Omits...), cols...)
}

// afterQuery runs after gorm:query: in L(m) it applies the upgrade converter
// to every loaded model stamped below the release, including models loaded
// by Joins (Preload runs queries of its own, which pass here too).
func (p *Plugin) afterQuery(db *gorm.DB) {
	st := current(db)
	if st == nil {
		return
	}
	defer end(db)
	if db.Error != nil || st.snap.mode != ModeDual {
		return
	}
	stmt := db.Statement
	if pl := st.plan; pl.changes && pl.spec.Upgrades {
		if err := pl.eachModel(stmt.ReflectValue, func(v reflect.Value) error { return pl.upgrade(stmt.Context, v) }); err != nil {
			_ = db.AddError(fmt.Errorf("compat: upgrade %s: %w", pl.spec.Model, err))
			return
		}
	}
	for _, j := range stmt.Joins {
		rel, ok := stmt.Schema.Relationships.Relations[j.Name]
		if !ok {
			continue
		}
		jpl := p.planOf(db, rel.FieldSchema)
		if jpl == nil || !jpl.changes || !jpl.spec.Upgrades {
			continue
		}
		err := st.plan.eachModel(stmt.ReflectValue, func(v reflect.Value) error {
			fv := rel.Field.ReflectValueOf(stmt.Context, v)
			return jpl.eachModel(fv, func(jv reflect.Value) error { return jpl.upgrade(stmt.Context, jv) })
		})
		if err != nil {
			_ = db.AddError(fmt.Errorf("compat: upgrade joined %s: %w", jpl.spec.Model, err))
			return
		}
	}
}

// afterRow puts the statement back after Row, Rows and Scan.
func (p *Plugin) afterRow(db *gorm.DB) { end(db) }
