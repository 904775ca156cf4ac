package compat

import (
	"strings"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
)

// tableOfRead returns, as SQL text, the table whose rows a read of pl's
// model loaded, for the separate read of their deprecated columns in L(c)
// (upgradeHidden). Statement.Table is no help under a Table expression:
// Table("customers AS c") sets it to the alias. A Table expression that
// names one table, with or without an alias ("customers AS c", "customers
// c", `"s"."customers"`), gives that table as written; any other
// expression (a subquery such as Table("(?) AS c", q), a join) gives the
// model's own table, where the rows' keys are found.
func tableOfRead(db *gorm.DB, pl *modelPlan) string {
	if e := db.Statement.TableExpr; e != nil && len(e.Vars) == 0 {
		if name, ok := tableOfExpr(e.SQL); ok {
			return name
		}
	}
	return quoteTable(db, pl.spec.Table)
}

// tableOfExpr returns the table a Table expression names: "t", "t AS a"
// or "t a", where t is one (possibly qualified or quoted) name.
func tableOfExpr(sql string) (string, bool) {
	f := strings.Fields(sql)
	switch {
	case len(f) == 1, len(f) == 2, len(f) == 3 && strings.EqualFold(f[1], "as"):
	default:
		return "", false
	}
	if strings.ContainsAny(f[0], "(),;'?") {
		return "", false
	}
	return f[0], true
}

// quoteTable quotes a table name for the statement's dialect.
func quoteTable(db *gorm.DB, table string) string {
	return dialect.QuoteIdent(dialect.Of(db), table)
}
