package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"sort"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// DefaultStaleKeys is how many stale primary keys Coverage samples per table
// when CoverageOptions.StaleKeys is 0.
const DefaultStaleKeys = 5

// BeforeTandem names object version 0: a row written before tandem.
const BeforeTandem = "before tandem"

// CoverageOptions tunes Coverage.
type CoverageOptions struct {
	// Histogram adds the rows per object version. It groups the whole table
	// by obj_version, which may scan it; the totals then come from it.
	Histogram bool
	// Estimate takes the row counts from the planner's statistics instead of
	// counting: PostgreSQL pg_class.reltuples and an EXPLAIN estimate of the
	// stale rows, MySQL/MariaDB information_schema.TABLES.TABLE_ROWS and
	// EXPLAIN. Whether a table is complete is still exact (AnyStale). SQLite
	// keeps no planner statistics, nor does a table never analysed: those
	// are counted, and the result says so.
	Estimate bool
	// StaleKeys is how many stale primary keys to sample per table (0: 5,
	// negative: none).
	StaleKeys int
}

// VersionCount is one bucket of a coverage histogram: the rows carrying
// one object version.
type VersionCount struct {
	Version string `json:"version"` // e.g. "2.0", or "before tandem" for stamp 0
	Stamp   int64  `json:"stamp"`   // the stored obj_version
	Marked  bool   `json:"marked"`  // written while the release was in L(c)
	Rows    int64  `json:"rows"`
}

// TableCoverage is the coverage of one versioned table.
type TableCoverage struct {
	Table     string         `json:"table"`
	Rows      int64          `json:"rows"`
	Stale     int64          `json:"stale"`   // rows stamped below the release
	Percent   float64        `json:"percent"` // share of rows at or after the release; 100 for an empty table
	Oldest    string         `json:"oldest"`  // oldest version present; "" when empty, "before tandem" for 0
	Histogram []VersionCount `json:"histogram,omitempty"`
	StaleKeys []string       `json:"stale_keys,omitempty"` // sample, oldest first; a composite key joined with ","
	Estimated bool           `json:"estimated"`            // Rows and Stale come from planner statistics
}

// Coverage is the row-version coverage of every versioned table for one
// release.
type Coverage struct {
	Release   string          `json:"release"`
	Tables    []TableCoverage `json:"tables"`
	Rows      int64           `json:"rows"`
	Stale     int64           `json:"stale"`
	Percent   float64         `json:"percent"`
	Complete  bool            `json:"complete"`  // no table has a stale row (always exact)
	Estimated bool            `json:"estimated"` // some table's counts are estimates
	Notes     []string        `json:"notes,omitempty"`
}

// VersionedTable is a table whose rows carry an object version.
type VersionedTable struct {
	Table      string   `json:"table"`
	PrimaryKey []string `json:"primary_key"`
	Stamp      string   `json:"stamp"` // the object-version column
}

// VersionedTables returns the versioned tables, from the model registry
// (tandem_models, the declarations of any release, the newest winning) and
// the models the runner was given (WithModels, which win), with their
// primary key and stamp column, ordered by table. A registered table the
// database does not have (dropped by a later contract) is left out.
func (r *Runner) VersionedTables(ctx context.Context) ([]VersionedTable, error) {
	db := r.db.WithContext(ctx)
	specs, err := store.Models(ctx, db)
	if err != nil {
		return nil, err
	}
	return versionedTables(db, specs, r.models)
}

// versionedTables merges the registry's declarations with the specs of
// models given in code (which win).
func versionedTables(db *gorm.DB, registry []store.ModelSpec, given []*model.Spec) ([]VersionedTable, error) {
	byTable := map[string]VersionedTable{}
	for _, row := range registry { // oldest release first: the newest wins
		doc, err := row.Doc()
		if err != nil {
			return nil, fmt.Errorf("migrations: versioned tables: %w", err)
		}
		if doc.Table == "" {
			doc.Table = row.Table
		}
		if doc.Stamp == "" {
			delete(byTable, doc.Table)
			continue
		}
		byTable[doc.Table] = VersionedTable{Table: doc.Table, PrimaryKey: doc.PrimaryKey, Stamp: doc.Stamp}
	}
	for _, s := range given {
		if s.StampColumn != "" {
			byTable[s.Table] = VersionedTable{Table: s.Table, PrimaryKey: s.PrimaryKey, Stamp: s.StampColumn}
		}
	}
	out := make([]VersionedTable, 0, len(byTable))
	for _, t := range byTable {
		if db.Migrator().HasTable(t.Table) {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out, nil
}

// Coverage reports, per versioned table, the share of rows whose object
// version is at or after release rel; a row stamped rel with the L(c) marker
// counts as at rel. rel must be named by the migration source, or known to
// the database (tandem_releases, or the model registry); otherwise the error
// is *UnknownReleaseError.
//
// The stale rows are counted with the obj_version index (CountStale); the
// total rows with COUNT(*), which scans the table, unless o.Estimate. Each
// table is read in one read-only snapshot on PostgreSQL and MySQL/MariaDB;
// SQLite reads without a transaction, so that writers are not blocked.
func (r *Runner) Coverage(ctx context.Context, rel versions.Version, o CoverageOptions) (*Coverage, error) {
	db := r.db.WithContext(ctx)
	specs, err := store.Models(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := r.knownRelease(ctx, db, specs, rel); err != nil {
		return nil, err
	}
	tables, err := versionedTables(db, specs, r.models)
	if err != nil {
		return nil, err
	}
	if o.StaleKeys == 0 {
		o.StaleKeys = DefaultStaleKeys
	}
	cov := &Coverage{Release: rel.String(), Tables: []TableCoverage{}, Complete: true}
	if o.Estimate && !o.Histogram && r.dialect == dialect.SQLite {
		cov.Notes = append(cov.Notes, "SQLite keeps no planner statistics: the rows were counted, not estimated")
	}
	for _, t := range tables {
		tc, note, err := r.tableCoverage(db, t, rel, o)
		if err != nil {
			return nil, err
		}
		if note != "" {
			cov.Notes = append(cov.Notes, note)
		}
		cov.Tables = append(cov.Tables, *tc)
		cov.Rows += tc.Rows
		cov.Stale += tc.Stale
		cov.Complete = cov.Complete && tc.Stale == 0
		cov.Estimated = cov.Estimated || tc.Estimated
	}
	cov.Percent = percent(cov.Rows, cov.Stale)
	return cov, nil
}

// knownRelease refuses a release neither the source nor the database names.
func (r *Runner) knownRelease(ctx context.Context, db *gorm.DB, specs []store.ModelSpec, rel versions.Version) error {
	known := map[versions.Version]bool{}
	for _, k := range r.src.Releases() {
		known[k] = true
	}
	states, err := store.ReleaseStates(ctx, db)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(states)+len(specs))
	for _, s := range states {
		names = append(names, s.Release)
	}
	for _, s := range specs {
		names = append(names, s.Release)
	}
	for _, n := range names {
		if v, err := versions.Parse(n); err == nil {
			known[v] = true
		}
	}
	if known[rel] {
		return nil
	}
	list := make([]versions.Version, 0, len(known))
	for k := range known {
		list = append(list, k)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Compare(list[j]) < 0 })
	return &UnknownReleaseError{Release: rel, Known: list}
}

// tableCoverage measures one table; note explains a requested estimate
// that could not be made.
func (r *Runner) tableCoverage(db *gorm.DB, t VersionedTable, rel versions.Version, o CoverageOptions) (tc *TableCoverage, note string, err error) {
	tc = &TableCoverage{Table: t.Table}
	measure := func(tx *gorm.DB) error {
		switch {
		case o.Histogram:
			if tc.Histogram, err = histogram(tx, r.dialect, t); err != nil {
				return err
			}
			for _, b := range tc.Histogram {
				tc.Rows += b.Rows
				if b.Stamp < rel.Stamp() {
					tc.Stale += b.Rows
				}
			}
		case o.Estimate && r.dialect != dialect.SQLite:
			if note, err = r.estimate(tx, t, rel, tc); err != nil {
				return err
			}
		default:
			if tc.Stale, err = CountStale(tx.Statement.Context, tx, t, rel); err != nil {
				return err
			}
			if tc.Rows, err = countRows(tx, r.dialect, t); err != nil {
				return err
			}
		}
		tc.Rows = max(tc.Rows, tc.Stale) // estimates may disagree
		if tc.Oldest, err = oldest(tx, r.dialect, t); err != nil {
			return err
		}
		if tc.Stale > 0 && o.StaleKeys > 0 && len(t.PrimaryKey) > 0 {
			tc.StaleKeys, err = staleKeys(tx, r.dialect, t, rel, o.StaleKeys)
		}
		return err
	}
	if r.dialect == dialect.SQLite {
		// SQLite's transactions here take the write lock: read without one.
		err = measure(db)
	} else {
		err = db.Transaction(measure, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	}
	if err != nil {
		return nil, "", fmt.Errorf("migrations: coverage of table %s: %w", t.Table, err)
	}
	tc.Percent = percent(tc.Rows, tc.Stale)
	return tc, note, nil
}

// percent is the share of rows that are not stale; 100 when there are none.
func percent(rows, stale int64) float64 {
	if rows <= 0 {
		return 100
	}
	return float64(rows-stale) * 100 / float64(rows)
}

// AnyStale reports whether some row of table t is stamped below rel, with
// `SELECT MIN(obj_version) FROM t`, which every dialect reads from one end
// of the obj_version index: it touches no row of the table.
func AnyStale(ctx context.Context, db *gorm.DB, t VersionedTable, rel versions.Version) (bool, error) {
	// MIN of an indexed column is read from one end of the index on every
	// dialect, whatever the planner's statistics say; "WHERE obj_version < ?
	// LIMIT 1" is not: with stale statistics PostgreSQL may scan the whole
	// complete table looking for a first match.
	d := dialect.Of(db)
	q := fmt.Sprintf("SELECT MIN(%s) FROM %s", dialect.QuoteIdent(d, t.Stamp), dialect.QuoteIdent(d, t.Table))
	var oldest *int64
	if err := db.WithContext(ctx).Raw(q).Scan(&oldest).Error; err != nil {
		return false, fmt.Errorf("migrations: look for stale rows in %s: %w", t.Table, err)
	}
	return oldest != nil && *oldest < rel.Stamp(), nil
}

// CountStale counts the rows of table t stamped below rel with
// `SELECT COUNT(*) FROM t WHERE obj_version < ?`, which the obj_version
// index answers: its cost is proportional to the stale rows, not the table.
func CountStale(ctx context.Context, db *gorm.DB, t VersionedTable, rel versions.Version) (int64, error) {
	d := dialect.Of(db)
	q := fmt.Sprintf("SELECT COUNT(*) FROM %s WHERE %s < ?", dialect.QuoteIdent(d, t.Table), dialect.QuoteIdent(d, t.Stamp))
	var n int64
	if err := db.WithContext(ctx).Raw(q, rel.Stamp()).Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("migrations: count stale rows in %s: %w", t.Table, err)
	}
	return n, nil
}

// countRows counts every row of t: a scan of the table (or of its smallest
// index).
func countRows(db *gorm.DB, d dialect.Name, t VersionedTable) (int64, error) {
	var n int64
	err := db.Raw("SELECT COUNT(*) FROM " + dialect.QuoteIdent(d, t.Table)).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count rows: %w", err)
	}
	return n, nil
}
