package compat

import (
	"fmt"
	"reflect"
	"strings"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// beforeQuery runs before gorm:query: in L(c) it refuses queries that name
// a deprecated field and leaves the deprecated columns out of the SELECT
// list; in every state it lists the model's columns rather than SELECT *
// (see hideColumns).
func (p *Plugin) beforeQuery(db *gorm.DB) {
	snap := p.snap.Load()
	if err := p.checkSubqueries(db, snap); err != nil {
		_ = db.AddError(err)
		return
	}
	pl := p.planFor(db, snap)
	if pl == nil || db.Error != nil {
		return
	}
	st := p.begin(db, pl, snap)
	p.hideColumns(db, st, pl, st.snap.mode)
}

// beforeRow does the same for Row, Rows and Scan, and marks the statement
// so that models Scan fills afterwards are upgraded (see scan.go).
func (p *Plugin) beforeRow(db *gorm.DB) {
	markScan(db)
	p.beforeQuery(db)
}

func (p *Plugin) hideColumns(db *gorm.DB, st *stmtState, pl *modelPlan, m Mode) {
	hidden, cols := pl.hiddenIn(m)
	stmt := db.Statement
	if len(cols) > 0 {
		if err := firstErr(pl.checkNames(hidden, stmt.Selects, "Select"), pl.checkNames(hidden, stmt.Omits, "Omit"), pl.checkClauses(hidden, stmt)); err != nil {
			_ = db.AddError(err)
			return
		}
	}
	if len(stmt.Selects) > 0 && allStars(stmt.Selects, stmt.Table) {
		// Select("*") or Select("customers.*") asks for every column: it
		// gets the model's, less the hidden ones, as a read without Select
		// does (end puts the caller's Selects back).
		stmt.Selects = nil
	}
	if plainSelect(db) {
		st.putClause("SELECT", pl.selectList(stmt, m))
		return
	}
	if _, explicit := stmt.Clauses["SELECT"]; explicit || len(stmt.Selects) > 0 {
		return // the caller chose the columns, none of them hidden
	}
	if len(cols) == 0 {
		if len(stmt.Omits) > 0 {
			return // GORM lists the columns already
		}
		// Versioned tables gain columns at every expand and lose them at
		// every contract. With SELECT *, a prepared statement cached by the
		// driver fails once on PostgreSQL (pgx: "cached plan must not
		// change result type"), and on SQLite the pure-Go driver's first
		// read after the change pairs the old column names with the new
		// row (after a DROP COLUMN, values land in the wrong fields). An
		// explicit column list does not change. An Omit of a name that is
		// no column makes GORM list the model's columns.
		cols = []string{explicitColumns}
	}
	stmt.Omits = append(append([]string(nil), stmt.Omits...), cols...)
}

// allStars reports whether every name of a Select is * or table.*, table
// being the statement's (quoted or not).
func allStars(names []string, table string) bool {
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "*" {
			continue
		}
		if q, ok := strings.CutSuffix(n, ".*"); ok && strings.EqualFold(trimQuotes(q), table) {
			continue
		}
		return false
	}
	return true
}

// explicitColumns is an Omit entry that names no column.
const explicitColumns = "tandem:explicit-columns"

// afterQuery runs after gorm:query: in L(m) it applies the upgrade converter
// to every loaded model stamped below the release, including models loaded
// by Joins, nested ones included (Preload runs queries of its own, which
// pass here too). A model, main or joined, is converted only when the SQL
// read its stamp.
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
	if db.Error != nil || stmt.Schema == nil {
		return
	}
	if snap.mode == ModeContract {
		if snap.state == versions.StateContractReady {
			p.upgradeHiddenLoaded(db, st, snap)
		}
		return
	}
	if st != nil {
		// st.plan is nil when the statement's own model is not stamped
		// and the plugin tracks it for its joined models (joinchecks.go).
		if pl := st.plan; pl != nil && pl.changes && pl.spec.Upgrades && stampRead(stmt) {
			if err := pl.eachModel(stmt.ReflectValue, func(v reflect.Value) error { return pl.upgrade(stmt.Context, v) }); err != nil {
				_ = db.AddError(fmt.Errorf("compat: upgrade %s: %w", pl.spec.Model, err))
				return
			}
		}
	}
	p.eachJoined(db, snap, stmt.SQL.String(), func(jpl *modelPlan, models []reflect.Value) error {
		for _, v := range models {
			if err := jpl.upgrade(stmt.Context, v); err != nil {
				return fmt.Errorf("compat: upgrade joined %s: %w", jpl.spec.Model, err)
			}
		}
		return nil
	})
}

// eachJoined calls fn with the plan and the loaded models of every model
// loaded by Joins (nested ones included, see joinedModels) that has
// upgrades in the release and whose stamp the statement's SQL read, and
// adds the first error fn returns to db. sql is the statement's SQL (Scan
// keeps it, since GORM clears it before Scan fills the models).
func (p *Plugin) eachJoined(db *gorm.DB, snap *snapshot, sql string, fn func(jpl *modelPlan, models []reflect.Value) error) {
	stmt := db.Statement
	if len(stmt.Joins) == 0 || stmt.Schema == nil {
		return
	}
	head, hasFrom := sqlHead(sql)
	for _, jm := range joinedModels(stmt) {
		jpl := p.planOf(db, jm.schema(), snap)
		if jpl == nil || !jpl.changes || !jpl.spec.Upgrades || (hasFrom && !jm.stampSelected(head)) {
			continue
		}
		var models []reflect.Value
		_ = jm.eachLoaded(stmt, stmt.Schema, stmt.ReflectValue, func(jv reflect.Value) error { models = append(models, jv); return nil })
		if len(models) == 0 {
			continue
		}
		if err := fn(jpl, models); err != nil {
			_ = db.AddError(err)
			return
		}
	}
}

// stampRead reports whether the statement's SELECT list may have read the
// stamp column: it names obj_version or *. A caller's Select, or raw SQL,
// that leaves the stamp out loads models with a zero stamp, which are not
// rows of an old release: converting them would overwrite what was read.
// When the statement has no FROM to tell the list apart, it answers yes.
func stampRead(stmt *gorm.Statement) bool {
	sql := stmt.SQL.String()
	i := indexFold(sql, " from ")
	if i < 0 {
		return true
	}
	head := sql[:i]
	return strings.Contains(head, "*") || indexFold(head, model.StampColumn) >= 0
}

// indexFold is strings.Index ignoring ASCII case, for a lower-case sub.
func indexFold(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return i
		}
	}
	return -1
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

// afterRow puts the statement back after Row, Rows and Scan, and notes
// for Scan whether the SQL read the stamp.
func (p *Plugin) afterRow(db *gorm.DB) {
	if db.Statement.Context != nil {
		markScanned(db)
	}
	end(db)
}

// upgradeHiddenLoaded runs upgradeHidden on the models a query loaded:
// its own (st is the plugin's state of the statement, nil when the plugin
// does not track it; its plan is nil when the plugin tracks it only for its
// joined models) and those loaded by Joins.
func (p *Plugin) upgradeHiddenLoaded(db *gorm.DB, st *stmtState, snap *snapshot) {
	stmt := db.Statement
	if st != nil && st.plan != nil && st.plan.changes && st.plan.spec.Upgrades && stampRead(stmt) {
		var models []reflect.Value
		_ = st.plan.eachModel(stmt.ReflectValue, func(v reflect.Value) error { models = append(models, v); return nil })
		if err := p.upgradeHidden(db, st.plan, tableOfRead(db, st.plan), models); err != nil {
			_ = db.AddError(fmt.Errorf("compat: upgrade %s in L(c): %w", st.plan.spec.Model, err))
			return
		}
	}
	p.eachJoined(db, snap, stmt.SQL.String(), func(jpl *modelPlan, models []reflect.Value) error {
		if err := p.upgradeHidden(db, jpl, quoteTable(db, jpl.spec.Table), models); err != nil {
			return fmt.Errorf("compat: upgrade joined %s in L(c): %w", jpl.spec.Model, err)
		}
		return nil
	})
}

// upgradeHidden converts, in L(c), the loaded models still stamped below
// the release (written by an older instance before it stopped, and
// not yet backfilled). The query left the deprecated columns out; the
// plugin reads them for those rows only, runs the upgrade converter, and
// clears them again, so the application never sees them. from is the
// table that holds their rows, as SQL text (tableOfRead).
func (p *Plugin) upgradeHidden(db *gorm.DB, pl *modelPlan, from string, models []reflect.Value) error {
	stmt := db.Statement
	s := pl.spec.Schema()
	stampField := s.LookUpField(model.StampColumn)
	var stale []reflect.Value
	for _, v := range models {
		if raw, _ := stampField.ValueOf(stmt.Context, v); raw.(int64) < pl.release.Stamp() {
			stale = append(stale, v)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	var cols []*schemaField
	for _, f := range pl.spec.DeprecatedIn(pl.release) {
		cols = append(cols, &schemaField{name: f.Column, f: f.SchemaField()})
	}
	if len(cols) == 0 {
		return nil
	}
	d := dialect.Of(db)
	q := func(id string) string { return dialect.QuoteIdent(d, id) }
	keyOf := func(vals []any) string { return fmt.Sprint(vals...) }
	byKey := map[string]reflect.Value{}
	var tuples []string
	var args []any
	for _, v := range stale {
		var kv []any
		for _, f := range s.PrimaryFields {
			x, _ := f.ValueOf(stmt.Context, v)
			kv = append(kv, x)
		}
		byKey[keyOf(kv)] = v
		tuples = append(tuples, dialect.Tuple(len(kv)))
		args = append(args, kv...)
	}
	var pkCols, sel []string
	for _, f := range s.PrimaryFields {
		pkCols = append(pkCols, q(f.DBName))
	}
	sel = append(sel, pkCols...)
	for _, c := range cols {
		sel = append(sel, q(c.name))
	}
	sql := "SELECT " + strings.Join(sel, ", ") + " FROM " + from + " WHERE (" + strings.Join(pkCols, ", ") + ") IN (" + strings.Join(tuples, ", ") + ")"
	rows, err := db.Session(&gorm.Session{NewDB: true}).Raw(sql, args...).Rows()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		vals := make([]any, len(sel))
		ptrs := make([]any, len(sel))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		key := vals[:len(pkCols)]
		for i, k := range key {
			if b, ok := k.([]byte); ok {
				key[i] = string(b)
			}
		}
		v, ok := byKey[keyOf(normalizeKeys(key, s.PrimaryFields, stmt, stale[0]))]
		if !ok {
			continue
		}
		for i, c := range cols {
			if err := c.f.Set(stmt.Context, v, vals[len(pkCols)+i]); err != nil {
				return err
			}
		}
		if err := pl.upgrade(stmt.Context, v); err != nil {
			return err
		}
		for _, c := range cols {
			if err := c.f.Set(stmt.Context, v, reflect.Zero(c.f.FieldType).Interface()); err != nil {
				return err
			}
		}
	}
	return rows.Err()
}
