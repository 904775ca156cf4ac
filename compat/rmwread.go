package compat

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"

	"github.com/tandemdb/tandem/internal/dialect"
)

// rowRead is the SELECT a read-modify-write in L(m) reads its row with:
// every column of the model but those deprecated before the release, from
// the statement's table, by primary key, locked on PostgreSQL and MySQL.
// It is built once per plan and table and sent on the statement's
// connection as it is, where a GORM query would build it, run its
// callbacks and scan through its statement every time: a second statement
// per update is what the dual write costs, and this keeps it to the
// database's share.
type rowRead struct {
	sql    string
	fields []*schema.Field // the model's fields of the columns, in order
}

// rowReads caches a plan's rowReads: the one of the model's own table,
// which nearly every update reads, where a load finds it, and those of
// other tables (db.Table("customers_eu")) by table.
type rowReads struct {
	p     atomic.Pointer[rowRead]
	other sync.Map // table (name or expression) -> *rowRead
}

// rowRead returns the plan's read of one row in L(m) for the dialect d
// from the statement's table, or nil when that table is an expression with
// values of its own (db.Table("(?) AS c", subquery)), which the read
// cannot be built once for. A plugin serves one database, so the dialect
// of a plan does not change.
func (pl *modelPlan) rowRead(stmt *gorm.Statement, d dialect.Name) *rowRead {
	s := pl.spec.Schema()
	table := stmt.Table
	if stmt.TableExpr != nil {
		if len(stmt.TableExpr.Vars) > 0 {
			return nil
		}
		table = stmt.TableExpr.SQL
	}
	own := stmt.TableExpr == nil && table == s.Table
	if own {
		if r := pl.reads.p.Load(); r != nil {
			return r
		}
	} else if r, ok := pl.reads.other.Load(table); ok {
		return r.(*rowRead)
	}
	r := &rowRead{}
	var b strings.Builder
	b.WriteString("SELECT ")
	for _, name := range s.DBNames {
		f := s.LookUpField(name)
		if slices.Contains(pl.oldCols, name) || f == nil || !f.Readable {
			continue
		}
		if len(r.fields) > 0 {
			b.WriteByte(',')
		}
		stmt.QuoteTo(&b, clause.Column{Name: name})
		r.fields = append(r.fields, f)
	}
	b.WriteString(" FROM ")
	if stmt.TableExpr != nil {
		b.WriteString(table) // as GORM writes it: quoted by Table, or an expression
	} else {
		stmt.QuoteTo(&b, clause.Table{Name: table})
	}
	b.WriteString(" WHERE ")
	for i, f := range s.PrimaryFields {
		if i > 0 {
			b.WriteString(" AND ")
		}
		stmt.QuoteTo(&b, clause.Column{Name: f.DBName})
		b.WriteString(" = ?")
	}
	b.WriteString(" LIMIT 1")
	if locksRead(d) {
		b.WriteString(" FOR UPDATE")
	}
	r.sql = dialect.Placeholders(d, b.String())
	if own {
		pl.reads.p.Store(r)
	} else {
		pl.reads.other.Store(table, r)
	}
	return r
}

// locksRead reports whether the read of a read-modify-write on dialect d
// locks the row (FOR UPDATE) until the update commits, so that a concurrent
// writer's change is not overwritten by values read before it. SQLite's
// transactions already hold the write lock.
func locksRead(d dialect.Name) bool { return d == dialect.Postgres || d == dialect.MySQL }

// leanRead reports whether a read-modify-write may read its row with the
// plan's rowRead rather than a GORM query: in L(m), for a model without an
// AfterFind hook (which a GORM query would call on the row read), not in a
// dry run (where the GORM query sends nothing), and from a table the read
// can be built once for (see rowRead).
func leanRead(pl *modelPlan, st *stmtState) bool {
	return st.snap.mode == ModeDual && !pl.spec.Schema().AfterFind && !st.stmt.DryRun &&
		(st.stmt.TableExpr == nil || len(st.stmt.TableExpr.Vars) == 0)
}

// readRow reads the row of key (its values in the order of the schema's
// primary fields) into row, a new value of the model, and upgrades it if
// it is stamped below the release, as a GORM query through the plugin
// would in L(m). It reports whether the row exists. The statement goes to
// the statement's connection (the update's transaction) and to GORM's
// logger.
func (p *Plugin) readRow(db *gorm.DB, pl *modelPlan, key []any, row reflect.Value) (bool, error) {
	stmt := db.Statement
	r := pl.rowRead(stmt, dialect.Of(db))
	t0 := time.Now()
	found := false
	err := func() error {
		rows, err := stmt.ConnPool.QueryContext(stmt.Context, r.sql, key...)
		if err != nil {
			return err
		}
		defer rows.Close()
		if !rows.Next() {
			return rows.Err()
		}
		found = true
		values := make([]any, len(r.fields))
		for i, f := range r.fields {
			values[i] = f.NewValuePool.Get()
		}
		err = rows.Scan(values...)
		for i, f := range r.fields {
			if err == nil {
				err = f.Set(stmt.Context, row, values[i])
			}
			f.NewValuePool.Put(values[i])
		}
		if err != nil {
			return err
		}
		return rows.Close()
	}()
	db.Logger.Trace(stmt.Context, t0, func() (string, int64) {
		n := int64(0)
		if found {
			n = 1
		}
		return db.Dialector.Explain(r.sql, key...), n
	}, err)
	if err != nil || !found {
		return false, err
	}
	if pl.spec.Upgrades {
		if err := pl.upgrade(stmt.Context, row); err != nil {
			return false, fmt.Errorf("upgrade: %w", err)
		}
	}
	return true, nil
}
