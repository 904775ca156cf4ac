package compat

import (
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// stmtKey is where a statement's state lives in Statement.Settings between
// the plugin's callbacks.
const stmtKey = "tandem:stmt"

// stmtState is what the plugin keeps for one statement: the snapshot it
// started with, and the Select/Omit lists to put back afterwards so that a
// reused statement (a chained *gorm.DB) does not inherit the plugin's edits.
type stmtState struct {
	snap    *snapshot
	plan    *modelPlan
	selects []string
	omits   []string
	ownSet  bool // the plugin added the SET clause

	// The fast path of a partial update (fastwrite.go): the WHERE clause
	// and the values as the caller gave them, to run the slow path if the
	// row changed since the caller loaded it.
	fast     bool
	where    *clause.Clause
	origDest any
	hadWhere bool
}

func (p *Plugin) begin(db *gorm.DB, pl *modelPlan) *stmtState {
	st := &stmtState{snap: p.snap.Load(), plan: pl, selects: db.Statement.Selects, omits: db.Statement.Omits}
	db.Statement.Settings.Store(stmtKey, st)
	return st
}

func current(db *gorm.DB) *stmtState {
	v, ok := db.Statement.Settings.Load(stmtKey)
	if !ok {
		return nil
	}
	return v.(*stmtState)
}

// end restores the statement and forgets its state.
func end(db *gorm.DB) {
	st := current(db)
	if st == nil {
		return
	}
	db.Statement.Selects, db.Statement.Omits = st.selects, st.omits
	if st.ownSet {
		delete(db.Statement.Clauses, "SET")
	}
	if st.fast {
		if st.hadWhere {
			db.Statement.Clauses["WHERE"] = *st.where
		} else {
			delete(db.Statement.Clauses, "WHERE")
		}
	}
	db.Statement.Settings.Delete(stmtKey)
}
