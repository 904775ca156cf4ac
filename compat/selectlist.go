package compat

import (
	"reflect"
	"slices"
	"strings"
	"sync/atomic"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// selectList is a SELECT clause the plugin builds once per model and mode:
// the model's quoted columns, less the hidden ones. Setting it on a
// statement costs no allocation, where an Omit entry makes GORM work the
// list out (a map of every column) and quote it column by column on every
// query. The names are not qualified by the table, as the statements it
// is used for read one table and join none; the shorter SQL also parses
// faster (on SQLite, a statement is parsed at every query).
type selectList struct {
	sql string
}

// Build writes the column list.
func (s *selectList) Build(b clause.Builder) { b.WriteString(s.sql) }

// selectLists caches a plan's lists, one per mode.
type selectLists struct {
	dual, contract atomic.Pointer[selectList]
}

func (c *selectLists) of(m Mode) *atomic.Pointer[selectList] {
	if m == ModeContract {
		return &c.contract
	}
	return &c.dual
}

// plainSelect reports whether GORM would build the statement's SELECT list
// from the model's own columns and nothing else: no Select, Omit, SELECT
// clause, DISTINCT, Joins, QueryFields, and a destination of the model's
// type (a smaller struct makes GORM list that struct's columns).
func plainSelect(db *gorm.DB) bool {
	stmt := db.Statement
	if len(stmt.Selects) > 0 || len(stmt.Omits) > 0 || len(stmt.Joins) > 0 || stmt.Distinct || db.QueryFields || stmt.SQL.Len() > 0 {
		return false
	}
	if _, ok := stmt.Clauses["SELECT"]; ok {
		return false
	}
	if from, ok := stmt.Clauses["FROM"]; ok {
		if f, ok := from.Expression.(clause.From); !ok || len(f.Joins) > 0 || len(f.Tables) > 0 {
			return false
		}
	}
	if stmt.Schema == nil || stmt.Table != stmt.Schema.Table || !stmt.ReflectValue.IsValid() {
		return false
	}
	t := stmt.ReflectValue.Type()
	for t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t == stmt.Schema.ModelType
}

// selectList returns the plan's column list for mode m: the model's
// columns less those hidden in m, the same for every statement of the plan
// in that mode, so it is built once.
func (pl *modelPlan) selectList(stmt *gorm.Statement, m Mode) *selectList {
	slot := pl.selects.of(m)
	if sl := slot.Load(); sl != nil {
		return sl
	}
	_, hide := pl.hiddenIn(m)
	var b strings.Builder
	n := 0
	for _, name := range stmt.Schema.DBNames {
		if slices.Contains(hide, name) {
			continue
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		stmt.QuoteTo(&b, clause.Column{Name: name})
	}
	sl := &selectList{sql: b.String()}
	slot.Store(sl)
	return sl
}
