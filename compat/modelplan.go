package compat

import (
	"context"
	"reflect"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"

	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// modelPlan is what the plugin of one release does with one stamped model.
type modelPlan struct {
	spec    *model.Spec
	release versions.Version
	// changes: the model adds or deprecates fields in the plugin's release,
	// so its writes and reads go through the converters.
	changes bool
	// hidden: fields deprecated at or before the release, by column and by
	// Go field name; hidden in L(c).
	hidden     map[string]model.Field
	hiddenCols []string
	// old: fields deprecated before the release; their columns are gone,
	// so they are hidden in L(m) too.
	old     map[string]model.Field
	oldCols []string
	// trans: fields added or deprecated in the release, by column and name.
	trans       map[string]model.Field
	transCols   []string
	transFields []*schema.Field // the schema's fields of transCols, in order
	addedCount  int             // how many of them the release adds
	// stampIndex reaches obj_version in the model struct without boxing.
	stampIndex []int
	// selects caches the SELECT lists of plain reads (selectlist.go).
	selects selectLists
	// reads caches the row read of a read-modify-write (rmwread.go).
	reads rowReads
}

func newModelPlan(spec *model.Spec, r versions.Version) *modelPlan {
	pl := &modelPlan{spec: spec, release: r, hidden: map[string]model.Field{}, old: map[string]model.Field{}, trans: map[string]model.Field{}}
	for _, f := range spec.HiddenAt(r) {
		pl.hidden[f.Column], pl.hidden[f.Name] = f, f
		pl.hiddenCols = append(pl.hiddenCols, f.Column)
		if f.Deprecated.Less(r) {
			pl.old[f.Column], pl.old[f.Name] = f, f
			pl.oldCols = append(pl.oldCols, f.Column)
		}
	}
	for _, f := range spec.Fields {
		if f.Added == r || f.Deprecated == r {
			pl.trans[f.Column], pl.trans[f.Name] = f, f
			pl.transCols = append(pl.transCols, f.Column)
			pl.transFields = append(pl.transFields, spec.Schema().LookUpField(f.Column))
			if f.Added == r {
				pl.addedCount++
			}
		}
	}
	pl.changes = len(pl.transCols) > 0
	if f := spec.Schema().LookUpField(model.StampColumn); f != nil {
		pl.stampIndex = f.StructField.Index
	}
	return pl
}

// hiddenName returns the hidden field a name (column, field name, or
// "table.column", quoted or not) refers to. Names match in any letter case:
// GORM resolves a field name that way, and SQLite and MySQL compare column
// names without case.
func (pl *modelPlan) hiddenName(hidden map[string]model.Field, name string) (model.Field, bool) {
	if len(hidden) == 0 {
		return model.Field{}, false
	}
	f, ok := hidden[name]
	if ok {
		return f, true
	}
	if i := lastDot(name); i >= 0 {
		name = name[i+1:]
	}
	name = trimQuotes(name)
	if f, ok = hidden[name]; ok {
		return f, true
	}
	for k, f := range hidden {
		if strings.EqualFold(k, name) {
			return f, true
		}
	}
	return model.Field{}, false
}

// hiddenIn returns the fields hidden in a mode, by name, and their columns.
func (pl *modelPlan) hiddenIn(m Mode) (map[string]model.Field, []string) {
	if m == ModeContract {
		return pl.hidden, pl.hiddenCols
	}
	return pl.old, pl.oldCols
}

func lastDot(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}

func trimQuotes(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '`') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

func (pl *modelPlan) deprecatedError(f model.Field, use string) error {
	return &DeprecatedFieldError{Model: pl.spec.Model, Field: f.Name, Column: f.Column, Release: f.Deprecated, Use: use}
}

// checkNames fails when a list of names (Select, Omit) names a hidden field.
func (pl *modelPlan) checkNames(hidden map[string]model.Field, names []string, use string) error {
	for _, n := range names {
		if f, ok := pl.hiddenName(hidden, n); ok {
			return pl.deprecatedError(f, use)
		}
	}
	return nil
}

// checkMap fails when a map of values names a hidden field.
func (pl *modelPlan) checkMap(hidden map[string]model.Field, dest any, use string) error {
	switch m := dest.(type) {
	case map[string]any:
		for k := range m {
			if f, ok := pl.hiddenName(hidden, k); ok {
				return pl.deprecatedError(f, use)
			}
		}
	case *map[string]any:
		return pl.checkMap(hidden, *m, use)
	case []map[string]any:
		for _, x := range m {
			if err := pl.checkMap(hidden, x, use); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkClauses fails when WHERE, ORDER BY, GROUP BY, HAVING or an explicit
// SELECT (Pluck) names a hidden field as a column or a condition's key.
// Raw SQL text is not inspected.
func (pl *modelPlan) checkClauses(hidden map[string]model.Field, stmt *gorm.Statement) error {
	if len(hidden) == 0 {
		return nil
	}
	if c, ok := stmt.Clauses["WHERE"]; ok {
		if w, ok := c.Expression.(clause.Where); ok {
			if err := pl.checkExprs(hidden, w.Exprs); err != nil {
				return err
			}
		}
	}
	if c, ok := stmt.Clauses["ORDER BY"]; ok {
		if ob, ok := c.Expression.(clause.OrderBy); ok {
			for _, col := range ob.Columns {
				if err := pl.checkColumn(hidden, col.Column, "Order"); err != nil {
					return err
				}
			}
		}
	}
	if c, ok := stmt.Clauses["GROUP BY"]; ok {
		if gb, ok := c.Expression.(clause.GroupBy); ok {
			for _, col := range gb.Columns {
				if err := pl.checkColumn(hidden, col, "Group"); err != nil {
					return err
				}
			}
			if err := pl.checkExprs(hidden, gb.Having); err != nil {
				return err
			}
		}
	}
	if c, ok := stmt.Clauses["SELECT"]; ok {
		if sel, ok := c.Expression.(clause.Select); ok {
			for _, col := range sel.Columns {
				if f, ok := pl.hiddenName(hidden, col.Name); ok {
					return pl.deprecatedError(f, "Pluck")
				}
			}
		}
	}
	return nil
}

// checkColumn fails when a column of ORDER BY or GROUP BY names a hidden
// field. A raw one ("name desc", "id, name") is checked by the first word
// of each of its comma-separated terms; expressions are not inspected.
func (pl *modelPlan) checkColumn(hidden map[string]model.Field, col clause.Column, use string) error {
	if !col.Raw {
		if f, ok := pl.hiddenName(hidden, col.Name); ok {
			return pl.deprecatedError(f, use)
		}
		return nil
	}
	for _, term := range strings.Split(col.Name, ",") {
		if f, ok := pl.hiddenName(hidden, firstWord(strings.TrimSpace(term))); ok {
			return pl.deprecatedError(f, use)
		}
	}
	return nil
}

func firstWord(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' || s[i] == '\n' {
			return s[:i]
		}
	}
	return s
}

func (pl *modelPlan) checkExprs(hidden map[string]model.Field, exprs []clause.Expression) error {
	for _, e := range exprs {
		col, _, group := condParts(e)
		if group != nil {
			if err := pl.checkExprs(hidden, group); err != nil {
				return err
			}
			continue
		}
		var name string
		switch c := col.(type) {
		case clause.Column:
			name = c.Name
		case string:
			name = c
		}
		if name != "" {
			if f, ok := pl.hiddenName(hidden, name); ok {
				return pl.deprecatedError(f, "Where")
			}
		}
	}
	return nil
}

// condParts splits a condition into what the checks look at: the column it
// compares (a clause.Column or a name; nil for SQL text), the values it
// carries, and, for AND, OR and NOT groups, the conditions it groups.
func condParts(e clause.Expression) (col any, vals []any, group []clause.Expression) {
	switch x := e.(type) {
	case clause.Eq:
		return x.Column, []any{x.Value}, nil
	case clause.Neq:
		return x.Column, []any{x.Value}, nil
	case clause.Gt:
		return x.Column, []any{x.Value}, nil
	case clause.Gte:
		return x.Column, []any{x.Value}, nil
	case clause.Lt:
		return x.Column, []any{x.Value}, nil
	case clause.Lte:
		return x.Column, []any{x.Value}, nil
	case clause.Like:
		return x.Column, []any{x.Value}, nil
	case clause.IN:
		return x.Column, x.Values, nil
	case clause.Expr:
		return nil, x.Vars, nil
	case *clause.Expr:
		return nil, x.Vars, nil
	case clause.NamedExpr:
		return nil, x.Vars, nil
	case clause.AndConditions:
		return nil, nil, x.Exprs
	case clause.OrConditions:
		return nil, nil, x.Exprs
	case clause.NotConditions:
		return nil, nil, x.Exprs
	}
	return nil, nil, nil
}

// eachModel calls fn with an addressable value of each model in v (a
// struct, pointer, slice or array of them) whose type is the plan's model.
func (pl *modelPlan) eachModel(v reflect.Value, fn func(reflect.Value) error) error {
	return eachStruct(v, pl.spec.Schema().ModelType, fn)
}

// upgrade applies the upgrade converter to a model read from a row stamped
// below the plan's release.
func (pl *modelPlan) upgrade(ctx context.Context, v reflect.Value) error {
	stamp, err := pl.stampOf(ctx, v)
	if err != nil {
		return err
	}
	if stamp >= pl.release.Stamp() {
		return nil
	}
	from, _, err := versions.DecodeStamp(stamp)
	if err != nil {
		return err
	}
	return v.Addr().Interface().(model.Upgrader).TandemUpgrade(from)
}

// stampOf reads the model's obj_version.
func (pl *modelPlan) stampOf(ctx context.Context, v reflect.Value) (int64, error) {
	if f, err := v.FieldByIndexErr(pl.stampIndex); err == nil && f.Kind() == reflect.Int64 {
		return f.Int(), nil
	}
	raw, _ := pl.spec.Schema().LookUpField(model.StampColumn).ValueOf(ctx, v)
	stamp, _ := raw.(int64)
	return stamp, nil
}

func downgrade(v reflect.Value) error {
	return v.Addr().Interface().(model.Downgrader).TandemDowngrade()
}
