package migrations

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// job is the backfill of one table towards release target.
type job struct {
	table   VersionedTable
	kind    string
	target  versions.Version
	change  versions.Version // newest release <= target that changes the table (zero: none)
	spec    *model.Spec      // convert
	set     string           // sql
	refill  bool             // also refill rows marked L(c) (flip back), with the downgrade converter
	colsCAS []string         // convert: the transitional columns compared and written
	// casTypes: convert, per key column then per colsCAS column, the type
	// (PostgreSQL) or character set (MySQL) the write needs; see casColumns.
	casTypes []string
}

// backfillAnnotation marks a migrate file whose body is SET expressions.
const backfillAnnotation = "backfill"

// sqlBackfill returns the table and SET list of a migrate file annotated
// `-- tandem:backfill <table>`.
func (r *Runner) sqlBackfill(m *Migration) (table, set string, ok bool, err error) {
	if m.Kind != KindSQL || m.ID.Phase != versions.PhaseMigrate {
		return "", "", false, nil
	}
	stmts, opts, err := m.Statements(r.dialect)
	if err != nil {
		return "", "", false, err
	}
	table, ok = opts.Annotations[backfillAnnotation]
	if !ok {
		return "", "", false, nil
	}
	table = strings.TrimSpace(table)
	if table == "" || len(stmts) != 1 {
		return "", "", false, fmt.Errorf("%s: a backfill file names its table (-- tandem:backfill customers) and holds one SET list, e.g. given_name = name", m.File(r.dialect))
	}
	return table, stmts[0].SQL, true, nil
}

// jobs plans the backfill of every versioned table towards target.
func (r *Runner) jobs(ctx context.Context, db *gorm.DB, v *view, target versions.Version) ([]job, error) {
	tables, err := r.tablesOn(ctx, db)
	if err != nil {
		return nil, err
	}
	models, err := store.Models(ctx, db)
	if err != nil {
		return nil, err
	}
	changes := map[string][]versions.Version{} // table -> releases that change it
	note := func(table, rel string) {
		if x, err := versions.Parse(rel); err == nil && x.Compare(target) <= 0 {
			changes[table] = append(changes[table], x)
		}
	}
	for _, m := range models {
		doc, err := m.Doc()
		if err != nil {
			return nil, err
		}
		for _, c := range doc.Columns {
			note(doc.Table, c.Added)
			note(doc.Table, c.Deprecated)
		}
	}
	specs := map[string]*model.Spec{}
	for _, s := range r.models {
		specs[s.Table] = s
		for _, rel := range s.Releases() {
			note(s.Table, rel.String())
		}
	}
	sqls := map[string]map[versions.Version]string{} // table -> release -> SET
	for _, m := range r.src.Migrations() {
		if m.ID.Release.Compare(target) > 0 {
			continue
		}
		table, set, ok, err := r.sqlBackfill(m)
		if err != nil {
			return nil, err
		}
		if ok {
			if sqls[table] == nil {
				sqls[table] = map[versions.Version]string{}
			}
			sqls[table][m.ID.Release] = set
			note(table, m.ID.Release.String())
		}
	}
	var out []job
	for _, t := range tables {
		if len(t.PrimaryKey) == 0 {
			return nil, fmt.Errorf("migrations: table %s has no primary key; the backfill walks tables by primary key\nhint: add a primary key to the model and the table", t.Table)
		}
		j := job{table: t, target: target, kind: BackfillRestamp}
		for _, c := range changes[t.Table] {
			if j.change.Less(c) {
				j.change = c
			}
		}
		if !j.change.IsZero() {
			switch {
			case specs[t.Table] != nil && specs[t.Table].Upgrades:
				j.kind, j.spec = BackfillConvert, specs[t.Table]
				for _, f := range j.spec.Fields {
					if f.Added == j.change || f.Deprecated == j.change {
						j.colsCAS = append(j.colsCAS, f.Column)
					}
				}
				j.refill = j.change == target && v.state(target) == versions.StateExpanded && j.spec.Downgrades
			case sqls[t.Table][j.change] != "":
				j.kind, j.set = BackfillSQL, sqls[t.Table][j.change]
			default:
				stale, err := AnyStale(ctx, db, t, j.change)
				if err != nil {
					return nil, err
				}
				if stale {
					return nil, fmt.Errorf("migrations: table %s changes shape in release %s and has rows older than that, but this runner has neither its model's converters nor a SQL backfill for it\nhint: run the service's own tandem binary (cli.WithModels), or add a migrate file annotated '-- tandem:backfill %s' with SET expressions",
						t.Table, j.change, t.Table)
				}
			}
		}
		out = append(out, j)
	}
	return out, nil
}
