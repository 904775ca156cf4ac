package compat

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
	"gorm.io/gorm/clause"

	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// afterWrite puts the statement back after a create.
func (p *Plugin) afterWrite(db *gorm.DB) { end(db) }

// beforeUpdate runs before gorm:update for stamped models.
//
// A model that changes nothing in this release is stamped on every update.
// For a model with transitional fields, the stamp must keep meaning "this
// row has this release's shape", so:
//   - a full write (Save) runs the downgrade converter in L(m) and stamps;
//   - a partial update that touches no transitional column leaves the
//     stamp alone;
//   - a partial update that sets every added column is written as it is,
//     with the deprecated columns the downgrade converter derives from it
//     (directWrite, for models that implement model.DowngradeFromAdded);
//   - any other partial update of transitional columns reads the row
//     (upgrading it if it is older), applies the update to it, and writes
//     every transitional column with the stamp: in L(m) after the downgrade
//     converter, in L(c) without the hidden columns and with the marker.
func (p *Plugin) beforeUpdate(db *gorm.DB) {
	snap := p.snap.Load()
	pl := p.planFor(db, snap)
	if pl == nil || db.Error != nil {
		return
	}
	st := p.begin(db, pl, snap)
	stmt := db.Statement
	// Values from a struct of another type, which GORM maps onto the
	// model's columns by name: the stamp cannot be set in it.
	other := otherStructDest(stmt, pl)
	if !pl.changes && len(pl.hiddenCols) == 0 {
		p.stamp(db, st, other)
		return
	}
	if hidden, cols := pl.hiddenIn(st.snap.mode); len(cols) > 0 {
		if err := firstErr(pl.checkNames(hidden, stmt.Selects, "Select"), pl.checkNames(hidden, stmt.Omits, "Omit"), pl.checkMap(hidden, stmt.Dest, "Updates"), pl.checkClauses(hidden, stmt)); err != nil {
			_ = db.AddError(err)
			return
		}
		stmt.Omits = append(append([]string(nil), stmt.Omits...), cols...)
	}
	_, isMap := updateMap(stmt)
	if err := qualifiedMapKey(stmt, pl); err != nil {
		_ = db.AddError(err)
		return
	}
	// A full write is Save (or Select("*") on the values of the model
	// itself); Select("*").Updates of a separate value writes every column
	// from that value, which is converted as a partial update below.
	full := !other && !isMap && len(stmt.Selects) == 1 && selectsAll(stmt, stmt.Selects[0]) && sameValue(stmt.Dest, stmt.Model)
	switch {
	case !pl.changes || full:
		if full && st.snap.mode == ModeDual && pl.spec.Downgrades {
			if err := pl.eachModel(stmt.ReflectValue, downgrade); err != nil {
				_ = db.AddError(fmt.Errorf("compat: downgrade %s: %w", pl.spec.Model, err))
				return
			}
		}
		p.stamp(db, st, other)
	case !touchesTransitional(stmt, pl):
		// The row keeps its shape and its stamp; but a row of a newer
		// release may have a column the update sets derived by that
		// release's converters, so it gets this release's stamp and is
		// upgraded again.
		if st.snap.newer {
			p.stampNewerRows(db, pl, st)
		}
	default:
		if !p.directWrite(db, pl, st) && !p.fastWrite(db, pl, st) {
			p.readModifyWrite(db, pl, st)
		}
	}
}

// afterUpdate puts the statement back.
func (p *Plugin) afterUpdate(db *gorm.DB) {
	if st := current(db); st != nil && st.fast && db.Error == nil && db.RowsAffected == 0 && !db.Statement.DryRun {
		if matchedUnchanged(db) {
			end(db)
			return
		}
		end(db)
		p.slowAfterConflict(db, st)
		return
	}
	end(db)
}

// readModifyWrite converts a partial update of transitional columns in
// L(m): it reads the row by primary key (upgrading it if it is older),
// applies the update, runs the downgrade converter, and writes every
// transitional column with the stamp.
func (p *Plugin) readModifyWrite(db *gorm.DB, pl *modelPlan, st *stmtState) {
	stmt := db.Statement
	key, ok := primaryKey(stmt, pl)
	if !ok {
		_ = db.AddError(fmt.Errorf("%w: %s is updated in %s without a primary key (a mass update); load the rows and Save them, or update them with tandem's backfill",
			ErrUnconvertibleUpdate, pl.spec.Model, p.release))
		return
	}
	if !keyBinds(stmt) {
		_ = db.AddError(fmt.Errorf("%w: %s is updated in %s by primary key, but the update's conditions have a top-level Or, which GORM joins to the key without parentheses (a OR b AND id = ?), so the update may match other rows than the key's (a mass update); group the conditions (Where(db.Where(a).Or(b))), or load the rows and Save them",
			ErrUnconvertibleUpdate, pl.spec.Model, p.release))
		return
	}
	if !p.inTransaction(db, st) {
		return
	}
	fresh := reflect.New(pl.spec.Schema().ModelType)
	row := fresh.Elem()
	var found bool
	var err error
	if leanRead(pl, st) {
		vals := make([]any, len(pl.spec.Schema().PrimaryFields))
		for i, f := range pl.spec.Schema().PrimaryFields {
			vals[i] = key[f.DBName]
		}
		found, err = p.readRow(db, pl, vals, row)
	} else {
		// In L(c) the GORM query hides the deprecated columns and
		// upgrades an older row from them (upgradeHidden).
		q := db.Session(&gorm.Session{NewDB: true}).Where(key).Limit(1)
		onTableOf(q, stmt)
		if locksRead(dialect.Of(db)) {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		res := q.Find(fresh.Interface())
		found, err = res.RowsAffected > 0, res.Error
	}
	if err != nil {
		_ = db.AddError(fmt.Errorf("compat: read %s for a partial update: %w", pl.spec.Model, err))
		return
	}
	if !found {
		return // nothing to update
	}
	set := callbacks.ConvertToAssignments(stmt)
	for _, a := range set {
		f := pl.spec.Schema().LookUpField(a.Column.Name)
		if f == nil {
			continue
		}
		if _, isExpr := a.Value.(clause.Expression); isExpr {
			if _, t := pl.trans[f.DBName]; t {
				_ = db.AddError(fmt.Errorf("%w: %s.%s is set by an SQL expression, which the converters cannot follow", ErrUnconvertibleUpdate, pl.spec.Model, f.Name))
				return
			}
			continue
		}
		if err := f.Set(stmt.Context, row, a.Value); err != nil {
			_ = db.AddError(fmt.Errorf("compat: apply update to %s.%s: %w", pl.spec.Model, f.Name, err))
			return
		}
	}
	if pl.spec.Downgrades && st.snap.mode == ModeDual {
		if err := downgrade(row); err != nil {
			_ = db.AddError(fmt.Errorf("compat: downgrade %s: %w", pl.spec.Model, err))
			return
		}
	}
	out := set[:0:0]
	for _, a := range set {
		if _, t := pl.trans[a.Column.Name]; !t && a.Column.Name != model.StampColumn {
			out = append(out, a)
		}
	}
	hidden, _ := pl.hiddenIn(st.snap.mode)
	for _, col := range pl.transCols {
		if _, h := hidden[col]; h {
			continue
		}
		f := pl.spec.Schema().LookUpField(col)
		v, _ := f.ValueOf(stmt.Context, row)
		out = append(out, clause.Assignment{Column: clause.Column{Name: col}, Value: v})
	}
	// The row is locked until the update commits, so a row that already
	// carries the stamp keeps it: writing it again would cost SQLite a
	// rewrite of the stamp's index entry.
	if stamp, _ := pl.stampOf(stmt.Context, row); stamp != st.snap.stamp {
		out = append(out, clause.Assignment{Column: clause.Column{Name: model.StampColumn}, Value: st.snap.stamp})
	}
	st.putClause("SET", out)
}

// onTableOf makes q, a chain of the plugin's own (past its first method,
// so that it owns its statement), run on the table of stmt as the caller
// named it (db.Table), and as unscoped as stmt.
func onTableOf(q *gorm.DB, stmt *gorm.Statement) {
	q.Statement.Table, q.Statement.TableExpr, q.Statement.Unscoped = stmt.Table, stmt.TableExpr, stmt.Unscoped
}

// keyBinds reports whether the model's primary key, which GORM adds to
// an update's WHERE clause with AND, binds the update to the model's row.
// It does not when the caller's conditions have a top-level Or: GORM
// renders Where(a).Or(b) and the key as "a OR b AND id = ?", which matches
// the rows of a whatever their key.
func keyBinds(stmt *gorm.Statement) bool {
	c, ok := stmt.Clauses["WHERE"]
	if !ok {
		return true
	}
	w, ok := c.Expression.(clause.Where)
	if !ok {
		return true
	}
	for _, e := range w.Exprs {
		if or, ok := e.(clause.OrConditions); ok && len(or.Exprs) == 1 {
			return false
		}
	}
	return true
}

// qualifiedMapKey refuses an update map that names a transitional column
// in another spelling than the model's column or field name: with its
// table ("customers.family_name") or in other letter case ("Family_Name").
// GORM writes such a key as it is, so the converters would not see the
// value (and MySQL or SQLite, which match column names without regard to
// case or take the qualifier, would write it next to the converted one).
func qualifiedMapKey(stmt *gorm.Statement, pl *modelPlan) error {
	m, _ := updateMap(stmt)
	return pl.qualifiedKey(m)
}

// qualifiedKey is qualifiedMapKey for one map of values (an update's or a
// Create's).
func (pl *modelPlan) qualifiedKey(m map[string]any) error {
	for k := range m {
		if _, exact := pl.trans[k]; exact {
			continue
		}
		u := unqualified(k)
		for _, f := range pl.trans {
			if strings.EqualFold(u, f.Column) || strings.EqualFold(u, f.Name) {
				return fmt.Errorf("%w: %s.%s is set by the map key %q: name the column as the model does (%q)",
					ErrUnconvertibleUpdate, pl.spec.Model, f.Name, k, f.Column)
			}
		}
	}
	return nil
}

// updateMap returns the map an update's values come from, a pointer to one
// followed, and whether they come from one.
func updateMap(stmt *gorm.Statement) (map[string]any, bool) {
	if pm, ok := stmt.Dest.(*map[string]any); ok && pm != nil {
		return *pm, true
	}
	m, ok := stmt.Dest.(map[string]any)
	return m, ok
}

// otherStructDest reports whether an update's values come from a struct of
// another type than the model.
func otherStructDest(stmt *gorm.Statement, pl *modelPlan) bool {
	dv := reflect.ValueOf(stmt.Dest)
	for dv.Kind() == reflect.Pointer && !dv.IsNil() {
		dv = dv.Elem()
	}
	return dv.Kind() == reflect.Struct && dv.Type() != pl.spec.Schema().ModelType
}

// stamp makes an update write the stamp: into the update's values, or,
// when they come from a struct of another type (which has no obj_version
// field to set), as an assignment of its own in the SET clause the plugin
// then builds.
func (p *Plugin) stamp(db *gorm.DB, st *stmtState, other bool) {
	stmt := db.Statement
	if pm, ok := stmt.Dest.(*map[string]any); ok && pm != nil && *pm != nil {
		// GORM's SetColumn knows maps, not pointers to them.
		stmt.Dest = *pm
		stampColumn(stmt, st.snap.stamp)
		stmt.Dest = pm
		return
	}
	if !other {
		stampColumn(stmt, st.snap.stamp)
		return
	}
	if !setWithStamp(stmt, st, st.snap.stamp, false) {
		return
	}
	if rv := stmt.ReflectValue; rv.Kind() == reflect.Struct && rv.CanAddr() && rv.Type() == st.plan.spec.Schema().ModelType {
		_ = st.plan.spec.Schema().LookUpField(model.StampColumn).Set(stmt.Context, rv, st.snap.stamp)
	}
}

// setWithStamp takes over the update's SET clause: the update's own
// assignments, as GORM would build them, and obj_version set to value. A
// stamp the update assigns itself is replaced, or, with callerWins, kept
// instead of value. It does nothing, and reports false, when the caller
// gave a SET clause of its own (left as it is) or there is nothing to set.
func setWithStamp(stmt *gorm.Statement, st *stmtState, value any, callerWins bool) bool {
	if _, ok := stmt.Clauses["SET"]; ok {
		return false
	}
	set := callbacks.ConvertToAssignments(stmt)
	if len(set) == 0 {
		return false
	}
	out := make(clause.Set, 0, len(set)+1)
	for _, a := range set {
		if a.Column.Name != model.StampColumn {
			out = append(out, a)
		} else if callerWins {
			value = a.Value
		}
	}
	st.putClause("SET", append(out, clause.Assignment{Column: clause.Column{Name: model.StampColumn}, Value: value}))
	return true
}

// stampNewerRows adds to a partial update that leaves the stamp alone a SET
// of obj_version that lowers a newer release's stamp to this release's
// and keeps any other (this release's own, marked or not, included): the
// newer release reads such a row as one it must upgrade again, from the
// columns this update wrote.
func (p *Plugin) stampNewerRows(db *gorm.DB, pl *modelPlan, st *stmtState) {
	// Above this release's marked stamp, the newest it writes, starts the
	// next release; the marker itself is kept (a flip back refills those
	// rows). A stamp the caller writes itself wins.
	col := clause.Column{Table: clause.CurrentTable, Name: model.StampColumn}
	setWithStamp(db.Statement, st, clause.Expr{SQL: "CASE WHEN ? > ? THEN ? ELSE ? END", Vars: []any{col, st.snap.stamp | versions.StampMarker, st.snap.stamp, col}}, true)
}

// inTransaction makes sure that the read and the write of a
// read-modify-write share a transaction, so that the row stays locked in
// between: if the caller runs the update outside one (SkipDefaultTransaction),
// the plugin opens one, which end commits or rolls back. It reports false,
// with the error added, when no transaction could be opened.
func (p *Plugin) inTransaction(db *gorm.DB, st *stmtState) bool {
	stmt := db.Statement
	if _, ok := stmt.ConnPool.(gorm.TxCommitter); ok || stmt.DryRun {
		return true
	}
	tx := db.Session(&gorm.Session{NewDB: true}).Begin()
	if errors.Is(tx.Error, gorm.ErrInvalidTransaction) {
		// A connection pool that cannot begin one: as GORM does for its
		// default transaction, go on without (and without the lock).
		return true
	}
	if tx.Error != nil {
		_ = db.AddError(fmt.Errorf("compat: begin a transaction for the partial update of %s: %w", st.plan.spec.Model, tx.Error))
		return false
	}
	st.tx, st.pool = tx, stmt.ConnPool
	stmt.ConnPool = tx.Statement.ConnPool
	return true
}

// primaryKey returns the conditions selecting the model's row.
func primaryKey(stmt *gorm.Statement, pl *modelPlan) (map[string]any, bool) {
	rv := stmt.ReflectValue
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return nil, false
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct || rv.Type() != pl.spec.Schema().ModelType {
		return nil, false
	}
	key := map[string]any{}
	for _, f := range pl.spec.Schema().PrimaryFields {
		v, zero := f.ValueOf(stmt.Context, rv)
		if zero {
			return nil, false
		}
		key[f.DBName] = v
	}
	return key, len(key) > 0
}

// hasPrimaryKey reports whether the statement's model has every primary
// key field set, as primaryKey does, without building the conditions.
func hasPrimaryKey(stmt *gorm.Statement, pl *modelPlan) bool {
	rv := stmt.ReflectValue
	for rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return false
		}
		rv = rv.Elem()
	}
	s := pl.spec.Schema()
	if rv.Kind() != reflect.Struct || rv.Type() != s.ModelType {
		return false
	}
	for _, f := range s.PrimaryFields {
		if _, zero := f.ValueOf(stmt.Context, rv); zero {
			return false
		}
	}
	return len(s.PrimaryFields) > 0
}

// touchesTransitional reports whether an update writes a transitional column.
func touchesTransitional(stmt *gorm.Statement, pl *modelPlan) bool {
	if m, isMap := updateMap(stmt); isMap {
		for k := range m {
			if _, ok := pl.trans[unqualified(k)]; ok {
				return true
			}
		}
		return false
	}
	all := false
	for _, s := range stmt.Selects {
		col, star := selectedColumn(stmt, s)
		if _, ok := pl.trans[col]; ok && col != "" {
			return true
		}
		all = all || star
	}
	if len(stmt.Selects) > 0 && !all {
		return false
	}
	dv := reflect.ValueOf(stmt.Dest)
	for dv.Kind() == reflect.Pointer {
		if dv.IsNil() {
			return false
		}
		dv = dv.Elem()
	}
	if dv.Kind() != reflect.Struct {
		return false
	}
	s := pl.spec.Schema()
	if dv.Type() != s.ModelType {
		// GORM writes the fields of a struct of another type into the
		// model's columns of the same names.
		other := &gorm.Statement{DB: stmt.DB}
		if err := other.Parse(stmt.Dest); err != nil || other.Schema == nil {
			return false
		}
		s = other.Schema
	}
	for _, col := range pl.transCols {
		if f := s.LookUpField(col); f != nil {
			if _, zero := f.ValueOf(stmt.Context, dv); !zero || all {
				return true // Select("*") writes zero values too
			}
		}
	}
	return false
}

// unqualified strips a table name from a column name ("customers.name"),
// as GORM does for the names in Select (an update map's keys it writes as
// they are: see qualifiedMapKey).
// selectedColumn reads a Select entry as GORM does: "*", a field or column
// name, or one qualified by the statement's table ("customers.name",
// "customers.*"), each part optionally quoted ("name", `name`). It returns
// the column or field named (empty for another table's or for "*"), and
// whether the entry selects every column.
func selectedColumn(stmt *gorm.Statement, s string) (col string, all bool) {
	if s == "*" {
		return "", true
	}
	table, name := "", s
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		table, name = unquoteIdent(s[:i]), s[i+1:]
	}
	if table != "" && table != stmt.Table {
		return "", false
	}
	if name == "*" {
		return "", true
	}
	return unquoteIdent(name), false
}

// sameValue reports whether the update's values are the model it updates
// (GORM writes from the model itself, as Save does).
func sameValue(dest, model any) bool {
	if dest == nil || model == nil {
		return model == nil
	}
	d, m := reflect.ValueOf(dest), reflect.ValueOf(model)
	return d.Kind() == reflect.Pointer && m.Kind() == reflect.Pointer && d.Pointer() == m.Pointer() && d.Type() == m.Type()
}

// selectsAll reports whether a Select entry selects every column.
func selectsAll(stmt *gorm.Statement, s string) bool {
	_, all := selectedColumn(stmt, s)
	return all
}

// unquoteIdent strips one quote character (any that is not a letter, digit
// or underscore) from each end of a name.
func unquoteIdent(s string) string {
	word := func(c byte) bool {
		return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	if len(s) >= 2 && !word(s[0]) && !word(s[len(s)-1]) {
		return s[1 : len(s)-1]
	}
	return s
}

func unqualified(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// stampColumn writes the stamp into the statement's values and makes sure
// obj_version is written even when Select or Omit restricted the columns.
func stampColumn(stmt *gorm.Statement, v int64) {
	stmt.SetColumn(model.StampColumn, v, true)
	if len(stmt.Omits) > 0 {
		omits := make([]string, 0, len(stmt.Omits))
		for _, o := range stmt.Omits {
			if !isStampName(stmt, o) {
				omits = append(omits, o)
			}
		}
		stmt.Omits = omits
	}
	if len(stmt.Selects) == 0 {
		return
	}
	for _, s := range stmt.Selects {
		if s == "*" || isStampName(stmt, s) {
			return
		}
	}
	stmt.Selects = append(append([]string(nil), stmt.Selects...), model.StampColumn)
}

func isStampName(stmt *gorm.Statement, name string) bool {
	if name == model.StampColumn {
		return true
	}
	f := stmt.Schema.LookUpField(name)
	return f != nil && f.DBName == model.StampColumn
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
