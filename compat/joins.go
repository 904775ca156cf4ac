package compat

import (
	"reflect"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"

	"github.com/tandemdb/tandem/model"
)

// joinedModel is one model a statement loads through Joins, as GORM's
// query builder (callbacks.BuildQuerySQL) joins it: Joins("Order.Buyer")
// joins Order under the alias "Order" and Buyer under "Order__Buyer", and
// selects their columns as "<alias>__<column>".
type joinedModel struct {
	// path is the chain of relations from the statement's model down to
	// this one; the last one's FieldSchema is the joined model.
	path []*schema.Relationship
	// alias is the alias of the joined table in the SQL.
	alias string
	// join is the index in Statement.Joins of the entry that joined it:
	// its Selects, Omits and On apply to this table (a table already
	// joined by an earlier entry is not joined again).
	join int
}

// schema returns the joined model's parsed schema.
func (jm joinedModel) schema() *schema.Schema { return jm.path[len(jm.path)-1].FieldSchema }

// joinedModels lists the models stmt loads through Joins of its model's
// relations, in GORM's order. A Joins of SQL text, or a name that is not a
// chain of relations, joins no model (GORM sends it as text).
func joinedModels(stmt *gorm.Statement) []joinedModel {
	if stmt.Schema == nil || len(stmt.Joins) == 0 {
		return nil
	}
	var out []joinedModel
	// seen: the default aliases of the tables joined so far (GORM's
	// specifiedRelationsName), so that a later entry does not join a
	// table again.
	var seen []string
	for i, j := range stmt.Joins {
		rels := stmt.Schema.Relationships.Relations
		var path []*schema.Relationship
		if rel, ok := rels[j.Name]; ok {
			path = []*schema.Relationship{rel}
		} else if strings.Contains(j.Name, ".") {
			for _, name := range strings.Split(j.Name, ".") {
				rel, ok := rels[name]
				if !ok {
					path = nil
					break
				}
				path = append(path, rel)
				rels = rel.FieldSchema.Relationships.Relations
			}
		}
		parent := ""
		for k, rel := range path {
			cur := rel.Name
			if parent != "" {
				cur = parent + "__" + rel.Name
			}
			if !contains(seen, cur) {
				seen = append(seen, cur)
				alias := cur
				if k == len(path)-1 && j.Alias != "" {
					alias = j.Alias
				}
				out = append(out, joinedModel{path: path[:k+1], alias: alias, join: i})
			}
			parent = cur
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// eachLoaded calls fn with each joined struct of jm that GORM filled in v
// (the statement's value: a model, a pointer, a slice of them), walking
// down the relation fields of its path. A relation left nil (no joined
// row) is skipped.
func (jm joinedModel) eachLoaded(stmt *gorm.Statement, s *schema.Schema, v reflect.Value, fn func(reflect.Value) error) error {
	return eachStruct(v, s.ModelType, func(sv reflect.Value) error {
		return jm.walk(stmt, sv, 0, fn)
	})
}

func (jm joinedModel) walk(stmt *gorm.Statement, v reflect.Value, k int, fn func(reflect.Value) error) error {
	rel := jm.path[k]
	fv := rel.Field.ReflectValueOf(stmt.Context, v)
	if k == len(jm.path)-1 {
		return eachStruct(fv, rel.FieldSchema.ModelType, fn)
	}
	return eachStruct(fv, rel.FieldSchema.ModelType, func(next reflect.Value) error {
		return jm.walk(stmt, next, k+1, fn)
	})
}

// stampSelected reports whether the SQL head (the SELECT list, see
// stampRead) reads the joined model's stamp: GORM names it
// <alias>__obj_version, and fills the joined struct's stamp only from a
// column of that name. A Joins with a Select or Omit that leaves it out,
// or an explicit SELECT clause, loads the model with a zero stamp, which
// must not be converted.
func (jm joinedModel) stampSelected(head string) bool {
	return aliasedColumnIn(head, jm.alias, joinedStamp)
}

// joinedStamp is the suffix GORM gives the stamp column of a joined model.
const joinedStamp = "__" + model.StampColumn

// aliasedColumnIn reports whether head names alias+suffix as a whole
// identifier (quoted or not).
func aliasedColumnIn(head, alias, suffix string) bool {
	for off := 0; ; {
		i := strings.Index(head[off:], suffix)
		if i < 0 {
			return false
		}
		i += off
		start, end := i-len(alias), i+len(suffix)
		if start >= 0 && head[start:i] == alias && (start == 0 || !identByte(head[start-1])) && (end == len(head) || !identByte(head[end])) {
			return true
		}
		off = i + 1
	}
}

func identByte(c byte) bool {
	return c == '_' || c == '$' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c >= 0x80
}

// sqlHead returns the statement's SQL up to its first FROM, and false when
// there is no FROM to tell the SELECT list apart.
func sqlHead(sql string) (string, bool) {
	i := indexFold(sql, " from ")
	if i < 0 {
		return sql, false
	}
	return sql[:i], true
}

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
	var drop map[[2]string]bool
	for _, jm := range joinedModels(stmt) {
		jpl := p.planOf(stmt.DB, jm.schema(), snap)
		if jpl == nil {
			continue
		}
		_, cols := jpl.hiddenIn(mode)
		for _, col := range cols {
			if drop == nil {
				drop = map[[2]string]bool{}
			}
			drop[[2]string{jm.alias, col}] = true
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
