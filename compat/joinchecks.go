package compat

import (
	"errors"
	"fmt"
	"strconv"

	"gorm.io/gorm"
)

// registerJoinChecks installs the checks of Joins on reads (Find, First,
// Scan, Rows, ...) in db's callbacks: they run after the plugin's own
// query and row callbacks, whose state they share, and before GORM builds
// the SQL. (It takes the *gorm.DB: GORM does not export the type of
// db.Callback().)
func (p *Plugin) registerJoinChecks(db *gorm.DB) error {
	cb := db.Callback()
	if err := cb.Query().After("tandem:query").Before("gorm:query").Register("tandem:query_joins", p.checkJoins); err != nil {
		return fmt.Errorf("compat: register query joins callback: %w", err)
	}
	if err := cb.Row().After("tandem:row").Before("gorm:row").Register("tandem:row_joins", p.checkJoins); err != nil {
		return fmt.Errorf("compat: register row joins callback: %w", err)
	}
	return nil
}

// checkJoins refuses, before any SQL, a Joins of a stamped model whose
// conditions name a field hidden in the current mode: Joins("Buyer",
// db.Where(&Customer{Name: ...})), db.Where(map[string]any{"name": ...}),
// db.Select("ID", "Name") or db.Omit("Name"). GORM puts the *gorm.DB's
// WHERE into the join's ON and its Select and Omit into the joined columns,
// where the checks of the statement's own model (beforeQuery) do not look.
// It does so whether or not the statement's own model is stamped.
//
// When the statement's own model is not stamped, it also starts the
// plugin's state of the statement, so that the SELECT list (joins.go) and
// the conversion of the joined models (afterQuery, Scan) use one snapshot
// of the release states: a flip between the two would convert rows whose
// deprecated columns were not read.
func (p *Plugin) checkJoins(db *gorm.DB) {
	stmt := db.Statement
	if len(stmt.Joins) == 0 || stmt.Schema == nil || db.Error != nil {
		return
	}
	st := current(db)
	var snap *snapshot
	if st != nil {
		snap = st.snap
	} else {
		snap = p.snap.Load()
	}
	tracked := false
	for _, jm := range joinedModels(stmt) {
		jpl := p.planOf(db, jm.schema(), snap)
		if jpl == nil {
			continue
		}
		tracked = true
		hidden, cols := jpl.hiddenIn(snap.mode)
		if len(cols) == 0 {
			continue
		}
		j := stmt.Joins[jm.join]
		err := firstErr(jpl.checkNames(hidden, j.Selects, "Select"), jpl.checkNames(hidden, j.Omits, "Omit"))
		if err == nil && j.On != nil {
			err = jpl.checkExprs(hidden, j.On.Exprs)
		}
		if err != nil {
			var de *DeprecatedFieldError
			if errors.As(err, &de) {
				de.Use = "Joins(" + strconv.Quote(j.Name) + ") with " + de.Use
			}
			_ = db.AddError(err)
			return
		}
	}
	if st == nil && tracked {
		p.begin(db, nil, snap)
	}
}
