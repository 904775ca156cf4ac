package compat

import (
	"reflect"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/callbacks"
	"gorm.io/gorm/clause"

	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/model"
)

// fastWrite converts a partial update of transitional columns without
// reading the row first, when the caller's model is a row it loaded (its
// stamp is set): the model, with the update applied, is the base for the
// converters, and the UPDATE compares and sets — it only matches while the
// row's stamp, and the transitional values the update does not set, are
// still those the model holds. If
// the row changed since it was loaded, nothing is written and afterUpdate
// runs the slow path (read with a lock, convert, write). It reports whether
// it took the update.
func (p *Plugin) fastWrite(db *gorm.DB, pl *modelPlan, st *stmtState) bool {
	stmt := db.Statement
	rv := stmt.ReflectValue
	if rv.Kind() != reflect.Struct || rv.Type() != pl.spec.Schema().ModelType || !rv.CanAddr() {
		return false
	}
	stamp, err := pl.stampOf(stmt.Context, rv)
	if err != nil || stamp == 0 {
		return false
	}
	if !hasPrimaryKey(stmt, pl) || !keyBinds(stmt) {
		return false
	}
	s := pl.spec.Schema()
	hidden, _ := pl.hiddenIn(st.snap.mode)
	// What the row holds, as far as the caller knows, before the update.
	base := reflect.New(rv.Type()).Elem()
	base.Set(rv)
	if w, ok := stmt.Clauses["WHERE"]; ok {
		st.where, st.hadWhere = &w, true
	}
	set := callbacks.ConvertToAssignments(stmt)
	st.callerSet = set
	// The compare-and-set covers the transitional values the write takes
	// from the caller's model, as written or as the converter's input.
	// Left out, because comparing them would add nothing but length to the
	// statement:
	//   - an added column the update sets by value: it is written (and
	//     given to the converter) as the update says, whatever the row
	//     holds now, as plain GORM would. On a row already in L's shape
	//     (stamped L) the same holds for a deprecated column the update
	//     sets; on an older row the loaded added values were upgraded from
	//     the deprecated ones as they were then, so those stay compared;
	//   - in L(m), on a row stamped L, the deprecated columns of a model
	//     whose downgrade reads only the added fields
	//     (model.DowngradeFromAdded): they are recomputed from the added
	//     ones, which a concurrent L writer keeps in step, and an L-1
	//     writer changes the stamp. On an older row the deprecated columns
	//     are the row's real values, and are compared.
	inShape := stamp == st.snap.stamp
	outputsOnly := st.snap.mode == ModeDual && pl.spec.Downgrades && pl.spec.DowngradesFromAdded && inShape
	assigned := make(map[string]bool, len(set))
	for _, a := range set {
		if _, isExpr := a.Value.(clause.Expression); isExpr {
			continue
		}
		if t, ok := pl.trans[a.Column.Name]; ok && (inShape || t.Added == pl.release) {
			assigned[a.Column.Name] = true
		}
	}
	type cmp struct {
		col string
		val any
	}
	cas := make([]cmp, 0, len(pl.transCols))
	for i, col := range pl.transCols {
		if _, h := hidden[col]; h || assigned[col] || outputsOnly && pl.trans[col].Added != pl.release {
			continue
		}
		v, _ := pl.transFields[i].ValueOf(stmt.Context, base)
		cas = append(cas, cmp{col, v})
	}
	for _, a := range set {
		f := s.LookUpField(a.Column.Name)
		if f == nil {
			continue
		}
		if _, isExpr := a.Value.(clause.Expression); isExpr {
			if _, t := pl.trans[f.DBName]; t {
				p.restoreWhere(stmt, st)
				return false
			}
			continue
		}
		if err := f.Set(stmt.Context, base, a.Value); err != nil {
			p.restoreWhere(stmt, st)
			return false
		}
	}
	if pl.spec.Downgrades && st.snap.mode == ModeDual {
		if err := downgrade(base); err != nil {
			_ = db.AddError(err)
			return true
		}
	}
	out := make(clause.Set, 0, len(set)+len(pl.transCols)+1)
	for _, a := range set {
		if _, t := pl.trans[a.Column.Name]; !t && a.Column.Name != model.StampColumn {
			out = append(out, a)
		}
	}
	for i, col := range pl.transCols {
		if _, h := hidden[col]; h {
			continue
		}
		f := pl.transFields[i]
		v, _ := f.ValueOf(stmt.Context, base)
		out = append(out, clause.Assignment{Column: clause.Column{Name: col}, Value: v})
		_ = f.Set(stmt.Context, rv, v) // the caller's model shows what is written
	}
	if stamp != st.snap.stamp {
		out = append(out, clause.Assignment{Column: clause.Column{Name: model.StampColumn}, Value: st.snap.stamp})
	}
	_ = s.LookUpField(model.StampColumn).Set(stmt.Context, rv, st.snap.stamp)
	conds := make([]clause.Expression, 0, len(cas)+1)
	conds = append(conds, clause.Eq{Column: casColumn(stmt, model.StampColumn), Value: stamp})
	for _, c := range cas {
		conds = append(conds, nullSafeEq(db.Dialector.Name(), casColumn(stmt, c.col), c.val))
	}
	st.putClause("SET", out)
	stmt.AddClause(clause.Where{Exprs: conds})
	st.fast = true
	return true
}

func (p *Plugin) restoreWhere(stmt *gorm.Statement, st *stmtState) {
	if st.hadWhere {
		stmt.Clauses["WHERE"] = *st.where
	} else {
		delete(stmt.Clauses, "WHERE")
	}
	st.where, st.hadWhere = nil, false
}

// nullSafeEq compares a column with a value, NULL equal to NULL.
func nullSafeEq(d string, col clause.Column, v any) clause.Expression {
	return clause.Expr{SQL: "? " + dialect.NullSafeEq(dialect.Name(d)) + " ?", Vars: []any{col, v}}
}

// casColumn names a column of the updated table in a compare-and-set
// condition: unqualified, unless the UPDATE has a FROM clause (PostgreSQL's
// and SQLite's UPDATE ... FROM), joins or a Table expression (which may
// name several tables), whose tables may have a column of the same name. A name in the top-level WHERE of an UPDATE of one table
// can only be that table's, and the shorter statement costs SQLite less to
// parse, which it does at every run.
func casColumn(stmt *gorm.Statement, name string) clause.Column {
	if _, from := stmt.Clauses["FROM"]; from || len(stmt.Joins) > 0 || stmt.TableExpr != nil {
		return clause.Column{Table: clause.CurrentTable, Name: name}
	}
	return clause.Column{Name: name}
}

// slowAfterConflict runs a partial update again through the slow path
// after the fast path matched no row: the row changed since the caller
// loaded it (or does not match the caller's conditions). The update runs
// as the caller's did: on its table, unscoped if it was, with its
// conditions (and FROM clause), writing the assignments GORM made of its
// values (so its Select and Omit hold), and without running the hooks a
// second time.
func (p *Plugin) slowAfterConflict(db *gorm.DB, st *stmtState) {
	stmt := db.Statement
	key, ok := primaryKey(stmt, st.plan)
	if !ok {
		return
	}
	model := reflect.New(st.plan.spec.Schema().ModelType)
	for _, f := range st.plan.spec.Schema().PrimaryFields {
		if err := f.Set(stmt.Context, model.Elem(), key[f.DBName]); err != nil {
			_ = db.AddError(err)
			return
		}
	}
	values := make(map[string]any, len(st.callerSet))
	for _, a := range st.callerSet {
		values[a.Column.Name] = a.Value
	}
	tx := db.Session(&gorm.Session{NewDB: true, SkipHooks: true}).Model(model.Interface())
	onTableOf(tx, stmt)
	if from, ok := stmt.Clauses["FROM"]; ok {
		tx.Statement.Clauses["FROM"] = from
	}
	tx.Statement.Joins = stmt.Joins
	if st.hadWhere {
		tx = tx.Clauses(st.where.Expression)
	}
	res := tx.Updates(values)
	if res.Error != nil {
		_ = db.AddError(res.Error)
		return
	}
	db.RowsAffected = res.RowsAffected
	// The caller's model gets the row as written.
	q := db.Session(&gorm.Session{NewDB: true, SkipHooks: true}).Where(key)
	onTableOf(q, stmt)
	_ = q.Take(stmt.ReflectValue.Addr().Interface()).Error
}

// matchedUnchanged reports whether the compare-and-set of a fast update
// that changed no row matched the row all the same. MySQL (without the
// clientFoundRows option) reports the rows an UPDATE changes, not those it
// matches, so an update that writes the values the row holds reports 0,
// which the fast path would take for a conflict, and write again. There,
// and only there, a SELECT with the update's conditions tells the two
// apart; it locks the row (FOR UPDATE) so that it reads the row as the
// UPDATE did, not a snapshot of the caller's transaction.
func matchedUnchanged(db *gorm.DB) bool {
	stmt := db.Statement
	w, ok := stmt.Clauses["WHERE"]
	if !ok || dialect.Of(db) != dialect.MySQL || len(stmt.Joins) > 0 {
		return false
	}
	if _, from := stmt.Clauses["FROM"]; from {
		return false
	}
	one := 1
	q := &gorm.Statement{DB: db, ConnPool: stmt.ConnPool, Context: stmt.Context, Schema: stmt.Schema,
		Table: stmt.Table, TableExpr: stmt.TableExpr, Clauses: map[string]clause.Clause{"WHERE": w}}
	q.AddClause(clause.Select{Expression: clause.Expr{SQL: "1"}})
	q.AddClause(clause.From{})
	q.AddClause(clause.Limit{Limit: &one})
	q.AddClause(clause.Locking{Strength: "UPDATE"})
	q.Build("SELECT", "FROM", "WHERE", "LIMIT", "FOR")
	t0 := time.Now()
	found := false
	err := func() error {
		rows, err := stmt.ConnPool.QueryContext(stmt.Context, q.SQL.String(), q.Vars...)
		if err != nil {
			return err
		}
		defer rows.Close()
		found = rows.Next()
		return rows.Err()
	}()
	db.Logger.Trace(stmt.Context, t0, func() (string, int64) {
		n := int64(0)
		if found {
			n = 1
		}
		return db.Dialector.Explain(q.SQL.String(), q.Vars...), n
	}, err)
	return err == nil && found
}
