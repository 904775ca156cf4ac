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

// beforeRow does the same for Row, Rows and Scan, and marks the statement
// so that models Scan fills afterwards are upgraded (see scan.go).
func (p *Plugin) beforeRow(db *gorm.DB) {
	markScan(db)
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
	stmt := db.Statement
	if st == nil && len(stmt.Joins) == 0 {
		return
	}
	snap := p.snap.Load()
	if st != nil {
		defer end(db)
		snap = st.snap
	}
	if db.Error != nil || snap.mode != ModeDual || stmt.Schema == nil {
		return
	}
	if st != nil {
		if pl := st.plan; pl.changes && pl.spec.Upgrades {
			if err := pl.eachModel(stmt.ReflectValue, func(v reflect.Value) error { return pl.upgrade(stmt.Context, v) }); err != nil {
				_ = db.AddError(fmt.Errorf("compat: upgrade %s: %w", pl.spec.Model, err))
				return
			}
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
		err := eachStruct(stmt.ReflectValue, stmt.Schema.ModelType, func(v reflect.Value) error {
			fv := rel.Field.ReflectValueOf(stmt.Context, v)
			return jpl.eachModel(fv, func(jv reflect.Value) error { return jpl.upgrade(stmt.Context, jv) })
		})
		if err != nil {
			_ = db.AddError(fmt.Errorf("compat: upgrade joined %s: %w", jpl.spec.Model, err))
			return
		}
	}
}

// eachStruct calls fn with each addressable struct of type t in v.
func eachStruct(v reflect.Value, t reflect.Type, fn func(reflect.Value) error) error {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == t && v.CanAddr() {
			return fn(v)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			if err := eachStruct(v.Index(i), t, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// afterRow puts the statement back after Row, Rows and Scan.
func (p *Plugin) afterRow(db *gorm.DB) { end(db) }
