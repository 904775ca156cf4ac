package compat

import (
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// installSelectBuilder wraps GORM's SELECT clause builder so that columns of
// joined models (Joins) that are hidden in the current mode are left out:
// GORM lists every column of a joined model itself, after the callbacks ran.
func (p *Plugin) installSelectBuilder(db *gorm.DB) {
	if db.ClauseBuilders == nil {
		db.ClauseBuilders = map[string]clause.ClauseBuilder{}
	}
	prev := db.ClauseBuilders["SELECT"]
	db.ClauseBuilders["SELECT"] = func(c clause.Clause, b clause.Builder) {
		if stmt, ok := b.(*gorm.Statement); ok && len(stmt.Joins) > 0 && stmt.Schema != nil {
			if sel, ok := c.Expression.(clause.Select); ok {
				c.Expression = p.withoutHiddenJoinColumns(stmt, sel)
			}
		}
		if prev != nil {
			prev(c, b)
			return
		}
		c.Build(b)
	}
}

func (p *Plugin) withoutHiddenJoinColumns(stmt *gorm.Statement, sel clause.Select) clause.Select {
	snap := p.snap.Load()
	if st := current(stmt.DB); st != nil {
		snap = st.snap
	}
	mode := snap.mode
	drop := map[[2]string]bool{}
	for _, j := range stmt.Joins {
		rel, ok := stmt.Schema.Relationships.Relations[j.Name]
		if !ok {
			continue
		}
		jpl := p.planOf(stmt.DB, rel.FieldSchema, snap)
		if jpl == nil {
			continue
		}
		alias := rel.Name
		if j.Alias != "" {
			alias = j.Alias
		}
		_, cols := jpl.hiddenIn(mode)
		for _, col := range cols {
			drop[[2]string{alias, col}] = true
		}
	}
	if len(drop) == 0 {
		return sel
	}
	out := make([]clause.Column, 0, len(sel.Columns))
	for _, col := range sel.Columns {
		if !drop[[2]string{col.Table, col.Name}] {
			out = append(out, col)
		}
	}
	sel.Columns = out
	return sel
}
