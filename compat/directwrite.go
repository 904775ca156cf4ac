package compat

import (
	"fmt"
	"reflect"

	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
	"gorm.io/gorm/clause"

	"github.com/tandemdb/tandem/model"
)

// directWrite converts, without reading the row, an update that sets every
// field the model adds in the release: the row's new shape is then all in
// the update. In L(m) the deprecated columns are computed by the downgrade
// converter from the update's values alone, which the model vouches for by
// implementing model.DowngradeFromAdded; in L(c) they are hidden and left
// alone. Every matched row gets the same values, so an update of many rows
// is converted too. It reports whether it took the update.
func (p *Plugin) directWrite(db *gorm.DB, pl *modelPlan, st *stmtState) bool {
	switch st.snap.mode {
	case ModeDual:
		if !pl.spec.Downgrades || !pl.spec.DowngradesFromAdded {
			return false
		}
	case ModeContract:
	default:
		return false
	}
	stmt := db.Statement
	s := pl.spec.Schema()
	// ConvertToAssignments adds the model's key to the WHERE clause; the
	// paths that run when this one declines save the caller's clause
	// themselves, so it is put back as it was.
	where, hadWhere := stmt.Clauses["WHERE"]
	set := callbacks.ConvertToAssignments(stmt)
	scratch, ok := p.directValues(stmt, pl, set)
	if !ok {
		if hadWhere {
			stmt.Clauses["WHERE"] = where
		} else {
			delete(stmt.Clauses, "WHERE")
		}
		return false
	}
	if st.snap.mode == ModeDual {
		if err := downgrade(scratch); err != nil {
			_ = db.AddError(fmt.Errorf("compat: downgrade %s: %w", pl.spec.Model, err))
			return true
		}
	}
	out := make(clause.Set, 0, len(set)+len(pl.transCols)+1)
	for _, a := range set {
		if _, t := pl.trans[a.Column.Name]; !t && a.Column.Name != model.StampColumn {
			out = append(out, a)
		}
	}
	hidden, _ := pl.hiddenIn(st.snap.mode)
	rv := stmt.ReflectValue
	mine := rv.Kind() == reflect.Struct && rv.Type() == s.ModelType && rv.CanAddr()
	for i, col := range pl.transCols {
		if _, h := hidden[col]; h {
			continue
		}
		f := pl.transFields[i]
		v, _ := f.ValueOf(stmt.Context, scratch)
		out = append(out, clause.Assignment{Column: clause.Column{Name: col}, Value: v})
		if mine {
			// The caller's model shows what is written.
			_ = f.Set(stmt.Context, rv, v)
		}
	}
	out = append(out, clause.Assignment{Column: clause.Column{Name: model.StampColumn}, Value: st.snap.stamp})
	if mine {
		_ = s.LookUpField(model.StampColumn).Set(stmt.Context, rv, st.snap.stamp)
	}
	st.putClause("SET", out)
	return true
}

// directValues returns a model holding the update's values of the added
// columns, or false when the update does not set each of them by value, or
// sets a deprecated column (then the row must be read and converted).
func (p *Plugin) directValues(stmt *gorm.Statement, pl *modelPlan, set clause.Set) (reflect.Value, bool) {
	s := pl.spec.Schema()
	// Every added column set by value, no deprecated one set at all. (A
	// column may be assigned twice, from a map naming it by column and by
	// field: each counts once.)
	seen := make([]bool, len(pl.transCols))
	added := 0
	for _, a := range set {
		t, ok := pl.trans[a.Column.Name]
		if !ok {
			continue
		}
		if _, isExpr := a.Value.(clause.Expression); isExpr {
			return reflect.Value{}, false // the slow path refuses it with its reason
		}
		if t.Added != pl.release {
			return reflect.Value{}, false
		}
		for i, c := range pl.transCols {
			if c == t.Column && !seen[i] {
				seen[i] = true
				added++
			}
		}
	}
	if added != pl.addedCount {
		return reflect.Value{}, false
	}
	scratch := reflect.New(s.ModelType).Elem()
	for _, a := range set {
		if _, ok := pl.trans[a.Column.Name]; !ok {
			continue
		}
		if err := s.LookUpField(a.Column.Name).Set(stmt.Context, scratch, a.Value); err != nil {
			return reflect.Value{}, false
		}
	}
	return scratch, true
}
