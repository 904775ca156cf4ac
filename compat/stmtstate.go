package compat

import (
	"context"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// stmtKey is where a statement's state lives between the plugin's
// callbacks: a value of the statement's context. (Statement.Settings would
// do too, but a lookup in an empty sync.Map allocates, and every statement
// of every model would pay for it.)
type stmtKey struct{}

// stmtState is what the plugin keeps for one statement: the snapshot it
// started with, and the Select/Omit lists to put back afterwards so that a
// reused statement (a chained *gorm.DB) does not inherit the plugin's edits.
type stmtState struct {
	stmt    *gorm.Statement // the statement it belongs to, not one made from it
	prevCtx context.Context // the statement's context before begin
	snap    *snapshot
	plan    *modelPlan
	selects []string
	omits   []string
	// ownSet, ownSelect: the plugin put the SET or SELECT clause (putClause)
	ownSet, ownSelect bool

	// The transaction the plugin opened for a read-modify-write that the
	// caller runs outside one (SkipDefaultTransaction), and the pool to
	// put back once it is committed or rolled back.
	tx   *gorm.DB
	pool gorm.ConnPool

	// The fast path of a partial update (fastwrite.go): the WHERE clause
	// as the caller gave it, and the assignments GORM made of the update's
	// values (after its Select, Omit and hooks), to run the slow path if
	// the row changed since the caller loaded it.
	fast      bool
	where     *clause.Clause
	callerSet clause.Set
	hadWhere  bool
}

func (p *Plugin) begin(db *gorm.DB, pl *modelPlan, snap *snapshot) *stmtState {
	stmt := db.Statement
	st := &stmtState{stmt: stmt, snap: snap, plan: pl, selects: stmt.Selects, omits: stmt.Omits}
	st.prevCtx = stmt.Context
	if prev := current(db); prev != nil {
		st.prevCtx = prev.prevCtx
	}
	if st.prevCtx == nil {
		st.prevCtx = context.Background()
	}
	stmt.Context = context.WithValue(st.prevCtx, stmtKey{}, st)
	return st
}

// putClause makes e the statement's SET or SELECT clause. The plugin
// builds e for the statement, so it is stored as it is, where AddClause
// would copy it; end removes it.
func (st *stmtState) putClause(name string, e clause.Expression) {
	stmt := st.stmt
	if stmt.Clauses == nil {
		stmt.Clauses = map[string]clause.Clause{}
	}
	stmt.Clauses[name] = clause.Clause{Name: name, Expression: e}
	switch name {
	case "SET":
		st.ownSet = true
	case "SELECT":
		st.ownSelect = true
	}
}

// current returns the state begin left for the statement, if any. A
// statement made from it (a session inside a callback) shares its context
// but not its state.
func current(db *gorm.DB) *stmtState {
	ctx := db.Statement.Context
	if ctx == nil {
		return nil
	}
	st, _ := ctx.Value(stmtKey{}).(*stmtState)
	if st == nil || st.stmt != db.Statement {
		return nil
	}
	return st
}

// end restores the statement and forgets its state. A transaction the
// plugin opened for the statement commits if the statement succeeded, and
// rolls back otherwise.
func end(db *gorm.DB) {
	st := current(db)
	if st == nil {
		return
	}
	if st.tx != nil {
		if db.Error != nil {
			st.tx.Rollback()
		} else if err := st.tx.Commit().Error; err != nil {
			_ = db.AddError(fmt.Errorf("compat: commit the partial update of %s: %w", st.plan.spec.Model, err))
		}
		db.Statement.ConnPool, st.tx = st.pool, nil
	}
	db.Statement.Selects, db.Statement.Omits = st.selects, st.omits
	if st.ownSet {
		delete(db.Statement.Clauses, "SET")
	}
	if st.ownSelect {
		delete(db.Statement.Clauses, "SELECT")
	}
	if st.fast {
		if st.hadWhere {
			db.Statement.Clauses["WHERE"] = *st.where
		} else {
			delete(db.Statement.Clauses, "WHERE")
		}
	}
	db.Statement.Context = st.prevCtx
}
