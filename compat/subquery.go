package compat

import (
	"context"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// GORM builds a subquery (a *gorm.DB given as a value: Where("id IN (?)",
// sub), a table expression, a Select expression) while it builds the outer
// statement, in a dry-run session whose error it drops. A subquery that
// names a hidden field would come out as empty SQL inside the outer one
// ("id IN ()"), which SQLite runs and answers with no rows. So in L(c) the
// outer statement's callback checks its subqueries first, whatever its own
// model, and fails the outer statement with the typed error.

// checkSubqueries returns the first DeprecatedFieldError of a subquery of
// the statement, at any depth, or nil.
func (p *Plugin) checkSubqueries(db *gorm.DB, snap *snapshot) error {
	if snap.mode != ModeContract {
		return nil
	}
	return p.walkSubqueries(db.Statement, snap, 0)
}

// maxSubqueryDepth bounds the walk: GORM itself recurses without a bound,
// but a subquery that contains itself would not end.
const maxSubqueryDepth = 8

func (p *Plugin) walkSubqueries(stmt *gorm.Statement, snap *snapshot, depth int) error {
	if depth > maxSubqueryDepth {
		return nil
	}
	var err error
	visit := func(v any) bool {
		sub, ok := v.(*gorm.DB)
		if !ok || sub == nil || sub.Statement == nil {
			return true
		}
		err = p.checkSubquery(sub, snap, depth+1)
		return err == nil
	}
	if c, ok := stmt.Clauses["WHERE"]; ok {
		if w, ok := c.Expression.(clause.Where); ok && !eachVar(w.Exprs, visit) {
			return err
		}
	}
	if c, ok := stmt.Clauses["GROUP BY"]; ok {
		if gb, ok := c.Expression.(clause.GroupBy); ok && !eachVar(gb.Having, visit) {
			return err
		}
	}
	if c, ok := stmt.Clauses["SELECT"]; ok {
		if sel, ok := c.Expression.(clause.Select); ok && sel.Expression != nil && !eachVar([]clause.Expression{sel.Expression}, visit) {
			return err
		}
	}
	if stmt.TableExpr != nil && !eachVar([]clause.Expression{*stmt.TableExpr}, visit) {
		return err
	}
	return nil
}

// checkSubquery checks one subquery against the plan of its model, then
// its own subqueries.
func (p *Plugin) checkSubquery(sub *gorm.DB, snap *snapshot, depth int) error {
	s := sub.Statement
	if s.Schema == nil && s.Model != nil {
		// Parsed on a copy of the statement: the caller's subquery may be
		// shared, and GORM does not change it either.
		ctx := s.Context
		if ctx == nil {
			ctx = context.Background()
		}
		s = sub.Session(&gorm.Session{Context: ctx}).Statement
		if err := s.Parse(s.Model); err != nil {
			return nil // GORM reports it when it builds the subquery
		}
	}
	if pl := p.planOf(sub, s.Schema, snap); pl != nil {
		if hidden, cols := pl.hiddenIn(snap.mode); len(cols) > 0 {
			if err := firstErr(pl.checkNames(hidden, s.Selects, "Select"), pl.checkNames(hidden, s.Omits, "Omit"), pl.checkClauses(hidden, s)); err != nil {
				return err
			}
		}
	}
	return p.walkSubqueries(s, snap, depth)
}

// eachVar calls fn with every value of the expressions (the Vars of an
// Expr or NamedExpr, the Values of an IN, the Value of a comparison),
// through AND, OR and NOT groups, until fn returns false; it reports
// whether it went through all of them.
func eachVar(exprs []clause.Expression, fn func(any) bool) bool {
	for _, e := range exprs {
		_, vals, group := condParts(e)
		if group != nil && !eachVar(group, fn) {
			return false
		}
		for _, v := range vals {
			if !fn(v) {
				return false
			}
		}
	}
	return true
}

// beforeUpdateSubqueries refuses an update whose conditions hold a
// subquery that names a hidden field.
func (p *Plugin) beforeUpdateSubqueries(db *gorm.DB) {
	if db.Error != nil {
		return
	}
	if err := p.checkSubqueries(db, p.snap.Load()); err != nil {
		_ = db.AddError(err)
	}
}
