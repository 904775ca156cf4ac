package migrations

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

// ScopeProblem is a contract migration statement that drops or alters a
// column no registered model deprecates in that release (Warning false), or
// a deprecated column no contract migration drops (Warning true, with no
// Migration). A statement that drops a versioned table is a problem with an
// empty Column.
type ScopeProblem struct {
	Migration string `json:"migration,omitempty"` // e.g. 2.0_contract01
	File      string `json:"file,omitempty"`      // the file that serves the dialect
	Statement int    `json:"statement,omitempty"` // 1-based statement of the file
	Line      int    `json:"line,omitempty"`      // line of that statement in the file
	Table     string `json:"table"`
	Column    string `json:"column,omitempty"`
	Reason    string `json:"reason"`
	Warning   bool   `json:"warning"`
}

// String formats the problem for a terminal.
func (p ScopeProblem) String() string {
	where := p.Migration
	if p.File != "" {
		where = p.File
		if p.Line > 0 {
			where += fmt.Sprintf(":%d", p.Line)
		}
	}
	if p.Statement > 0 {
		where += fmt.Sprintf(" statement %d", p.Statement)
	}
	if where == "" {
		return p.Reason
	}
	return where + ": " + p.Reason
}

// scopeAction is what a statement does to a column or a table.
type scopeAction int

const (
	scopeDrop      scopeAction = iota // ALTER TABLE ... DROP [COLUMN]
	scopeAlter                        // ALTER/MODIFY/CHANGE [COLUMN]
	scopeRename                       // RENAME COLUMN
	scopeAdd                          // ADD [COLUMN]
	scopeDropTable                    // DROP TABLE (Column is "")
)

func (a scopeAction) verb() string {
	return [...]string{"drops", "alters", "renames", "adds", "drops"}[a]
}

// scopeTouch is one recognised effect of a statement.
type scopeTouch struct {
	Action scopeAction
	Table  string
	Column string
}

// CheckScope compares the contract migrations of release rel (for dialect
// d) with the columns the model docs of rel deprecate in rel.
//
// It recognises ALTER TABLE t DROP [COLUMN] [IF EXISTS] c (several
// comma-separated actions too), ALTER TABLE t ALTER/MODIFY/CHANGE [COLUMN]
// c ..., ALTER TABLE t RENAME [COLUMN] c ..., and DROP TABLE t, with
// identifiers quoted or not (double quotes, backticks, SQLite's brackets), in
// any case, schema-qualified or not. Statements it does not recognise are
// not problems, nor are Go migrations, which cannot be inspected.
//
// A statement touching a column not deprecated in rel is a problem, and so
// is dropping a table a model of rel declares. A column deprecated in rel
// that no contract statement of rel drops (dropping its table counts) is a
// warning. Problems come in migration order, warnings after them.
func CheckScope(src *Source, d dialect.Name, rel versions.Version, docs []store.SpecDoc) []ScopeProblem {
	byTable := map[string]store.SpecDoc{}
	for _, doc := range docs {
		byTable[strings.ToLower(doc.Table)] = doc
	}
	deprecated := func(table, column string) bool {
		doc, ok := byTable[strings.ToLower(table)]
		if !ok {
			return false
		}
		for _, c := range doc.DeprecatedIn(rel.String()) {
			if strings.EqualFold(c, column) {
				return true
			}
		}
		return false
	}
	var out []ScopeProblem
	dropped := map[string]bool{} // "table\x00column" and "table\x00" for a dropped table
	var goContracts []string
	for _, m := range src.Migrations() {
		if m.ID.Release != rel || m.ID.Phase != versions.PhaseContract {
			continue
		}
		if m.Kind == KindGo {
			goContracts = append(goContracts, m.ID.String())
			continue
		}
		stmts, _, err := m.Statements(d)
		if err != nil {
			continue // Validate reports files that do not split
		}
		for i, st := range stmts {
			for _, t := range scopeParse(d, st.SQL) {
				p := ScopeProblem{Migration: m.ID.String(), File: m.File(d), Statement: i + 1, Line: st.Line, Table: t.Table, Column: t.Column}
				switch t.Action {
				case scopeDropTable:
					dropped[strings.ToLower(t.Table)+"\x00"] = true
					if doc, ok := byTable[strings.ToLower(t.Table)]; ok {
						p.Reason = fmt.Sprintf("drops table %s, which model %s of release %s declares; drop only what the models deprecate (a table rebuild needs the explicit override)", t.Table, doc.Model, rel)
						out = append(out, p)
					}
				case scopeDrop, scopeAlter, scopeRename:
					if t.Action == scopeDrop {
						dropped[strings.ToLower(t.Table)+"\x00"+strings.ToLower(t.Column)] = true
					}
					if deprecated(t.Table, t.Column) {
						continue
					}
					if doc, ok := byTable[strings.ToLower(t.Table)]; ok {
						p.Reason = fmt.Sprintf("%s column %s.%s, which model %s does not declare deprecated=%s", t.Action.verb(), t.Table, t.Column, doc.Model, rel)
					} else {
						p.Reason = fmt.Sprintf("%s column %s.%s, but no model of release %s registered for table %s declares it deprecated=%s", t.Action.verb(), t.Table, t.Column, rel, t.Table, rel)
					}
					out = append(out, p)
				}
			}
		}
	}
	var warnings []ScopeProblem
	for _, doc := range docs {
		for _, c := range doc.DeprecatedIn(rel.String()) {
			tk := strings.ToLower(doc.Table) + "\x00"
			if dropped[tk] || dropped[tk+strings.ToLower(c)] {
				continue
			}
			reason := fmt.Sprintf("column %s.%s is deprecated in %s (model %s) but no contract migration of %s for %s drops it; write one, or run 'tandem plan --release %s --write DIR'",
				doc.Table, c, rel, doc.Model, rel, d, rel)
			if len(goContracts) > 0 {
				reason += fmt.Sprintf(" (Go migrations %s cannot be inspected: ignore this if one of them drops it)", strings.Join(goContracts, ", "))
			}
			warnings = append(warnings, ScopeProblem{Table: doc.Table, Column: c, Reason: reason, Warning: true})
		}
	}
	sort.SliceStable(warnings, func(i, j int) bool {
		if warnings[i].Table != warnings[j].Table {
			return warnings[i].Table < warnings[j].Table
		}
		return warnings[i].Column < warnings[j].Column
	})
	return append(out, warnings...)
}

// ValidateScope checks the contract migrations of release rel (zero: the
// newest the source names) against the model registry of rel in the
// database (tandem_models), for the runner's dialect: see CheckScope. When no
// model of rel is registered the scope cannot be checked, and the result is
// one warning that says so.
func (r *Runner) ValidateScope(ctx context.Context, rel versions.Version) ([]ScopeProblem, error) {
	return r.validateScope(ctx, r.db.WithContext(ctx), rel)
}

// validateScope is ValidateScope on a given connection (the runner's locked
// one during a contract).
func (r *Runner) validateScope(ctx context.Context, db *gorm.DB, rel versions.Version) ([]ScopeProblem, error) {
	if rel.IsZero() {
		var err error
		if rel, err = r.resolve(rel); err != nil {
			return nil, err
		}
	}
	docs, err := registeredDocs(ctx, db, rel)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return []ScopeProblem{{Warning: true, Reason: fmt.Sprintf("no model of release %s is registered in %s, so the contract's scope cannot be checked; instances of %s running the compat plugin register their models at start-up",
			rel, store.ModelsTable, rel)}}, nil
	}
	return CheckScope(r.src, r.dialect, rel, docs), nil
}

// registeredDocs returns the model docs the registry holds for rel, by table.
func registeredDocs(ctx context.Context, db *gorm.DB, rel versions.Version) ([]store.SpecDoc, error) {
	return store.DocsFor(ctx, db, rel)
}
