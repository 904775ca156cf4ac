package migrations

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/versions"
)

// The queries behind a coverage report that the gate does not need: the
// histogram, the oldest version, sample stale keys, and the planner's
// estimates.

// histogram groups t by object version, oldest first.
func histogram(db *gorm.DB, d dialect.Name, t VersionedTable) ([]VersionCount, error) {
	s := dialect.QuoteIdent(d, t.Stamp)
	var rows []struct{ Stamp, N int64 }
	q := fmt.Sprintf("SELECT %s AS stamp, COUNT(*) AS n FROM %s GROUP BY %s ORDER BY %s", s, dialect.QuoteIdent(d, t.Table), s, s)
	if err := db.Raw(q).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("rows per object version: %w", err)
	}
	out := make([]VersionCount, 0, len(rows))
	for _, b := range rows {
		name, marked := stampName(b.Stamp)
		out = append(out, VersionCount{Version: name, Stamp: b.Stamp, Marked: marked, Rows: b.N})
	}
	return out, nil
}

// stampName names the version a stamp encodes.
func stampName(stamp int64) (string, bool) {
	if stamp == 0 {
		return BeforeTandem, false
	}
	v, marked, err := versions.DecodeStamp(stamp)
	if err != nil {
		return fmt.Sprintf("invalid stamp %d", stamp), false
	}
	return v.String(), marked
}

// oldest names the oldest version present in t ("" when t is empty); the
// index answers MIN.
func oldest(db *gorm.DB, d dialect.Name, t VersionedTable) (string, error) {
	var m sql.NullInt64
	q := fmt.Sprintf("SELECT MIN(%s) FROM %s", dialect.QuoteIdent(d, t.Stamp), dialect.QuoteIdent(d, t.Table))
	if err := db.Raw(q).Scan(&m).Error; err != nil {
		return "", fmt.Errorf("oldest object version: %w", err)
	}
	if !m.Valid {
		return "", nil
	}
	name, _ := stampName(m.Int64)
	return name, nil
}

// staleKeys samples the primary keys of up to n stale rows, oldest first.
func staleKeys(db *gorm.DB, d dialect.Name, t VersionedTable, rel versions.Version, n int) ([]string, error) {
	cols := make([]string, len(t.PrimaryKey))
	for i, c := range t.PrimaryKey {
		cols[i] = dialect.QuoteIdent(d, c)
	}
	s := dialect.QuoteIdent(d, t.Stamp)
	q := fmt.Sprintf("SELECT %s FROM %s WHERE %s < ? ORDER BY %s, %s LIMIT %d",
		strings.Join(cols, ", "), dialect.QuoteIdent(d, t.Table), s, s, strings.Join(cols, ", "), n)
	_, rows, err := textRows(db.Raw(q, rel.Stamp()))
	if err != nil {
		return nil, fmt.Errorf("sample stale keys: %w", err)
	}
	out := make([]string, len(rows))
	for i, row := range rows {
		out[i] = strings.Join(row, ",")
	}
	return out, nil
}

// textRows runs a query and returns its column names and every row's
// values as text.
func textRows(q *gorm.DB) (cols []string, out [][]string, err error) {
	rows, err := q.Rows()
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	if cols, err = rows.Columns(); err != nil {
		return nil, nil, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, nil, err
		}
		row := make([]string, len(vals))
		for i, v := range vals {
			row[i] = formatKey(v)
		}
		out = append(out, row)
	}
	return cols, out, rows.Err()
}

// formatKey formats one primary key value as text.
func formatKey(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case [16]byte: // a PostgreSQL uuid
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	default:
		return fmt.Sprint(x)
	}
}

// estimate fills tc's counts from the planner's statistics. The stale
// count is exact when it is 0 (AnyStale). A table without statistics is
// counted instead; note says so.
func (r *Runner) estimate(db *gorm.DB, t VersionedTable, rel versions.Version, tc *TableCoverage) (note string, err error) {
	ctx := db.Statement.Context
	rows, ok, err := estimateRows(db, r.dialect, t)
	if err != nil {
		return "", err
	}
	if !ok {
		if tc.Stale, err = CountStale(ctx, db, t, rel); err != nil {
			return "", err
		}
		tc.Rows, err = countRows(db, r.dialect, t)
		return fmt.Sprintf("table %s has no planner statistics yet (run ANALYZE): its rows were counted", t.Table), err
	}
	tc.Rows, tc.Estimated = rows, true
	anyStale, err := AnyStale(ctx, db, t, rel)
	if err != nil || !anyStale {
		return "", err
	}
	stale, err := estimateStale(db, r.dialect, t, rel)
	if err != nil {
		return "", err
	}
	tc.Stale = max(stale, 1)
	return "", nil
}

// estimateRows reads the planner's row count of t; ok is false when the
// table has no statistics.
func estimateRows(db *gorm.DB, d dialect.Name, t VersionedTable) (n int64, ok bool, err error) {
	var est sql.NullFloat64
	switch d {
	case dialect.Postgres:
		// What the planner does: the tuple density of the last ANALYZE or
		// VACUUM, times the table's current size in pages.
		err = db.Raw(`SELECT CASE WHEN c.reltuples < 0 THEN NULL
			WHEN c.relpages = 0 THEN c.reltuples
			ELSE c.reltuples / c.relpages * (pg_relation_size(c.oid) / current_setting('block_size')::bigint) END
			FROM pg_class c WHERE c.oid = to_regclass(?)`, dialect.QuoteIdent(d, t.Table)).Scan(&est).Error
	case dialect.MySQL:
		err = db.Raw("SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", t.Table).Scan(&est).Error
	}
	if err != nil {
		return 0, false, fmt.Errorf("estimate rows: %w", err)
	}
	if !est.Valid || est.Float64 < 0 {
		return 0, false, nil
	}
	return int64(math.Round(est.Float64)), true, nil
}

// estimateStale asks the planner how many rows the CountStale predicate
// selects.
func estimateStale(db *gorm.DB, d dialect.Name, t VersionedTable, rel versions.Version) (int64, error) {
	pred := fmt.Sprintf("SELECT 1 FROM %s WHERE %s < ?", dialect.QuoteIdent(d, t.Table), dialect.QuoteIdent(d, t.Stamp))
	if d == dialect.Postgres {
		var plan string
		if err := db.Raw("EXPLAIN (FORMAT JSON) "+pred, rel.Stamp()).Scan(&plan).Error; err != nil {
			return 0, fmt.Errorf("estimate stale rows: %w", err)
		}
		var doc []struct {
			Plan struct {
				Rows float64 `json:"Plan Rows"`
			} `json:"Plan"`
		}
		if err := json.Unmarshal([]byte(plan), &doc); err != nil || len(doc) == 0 {
			return 0, fmt.Errorf("estimate stale rows: unexpected plan %q", plan)
		}
		return int64(math.Round(doc[0].Plan.Rows)), nil
	}
	// MySQL and MariaDB: the rows column of the tabular EXPLAIN.
	cols, plan, err := textRows(db.Raw("EXPLAIN "+pred, rel.Stamp()))
	if err != nil {
		return 0, fmt.Errorf("estimate stale rows: %w", err)
	}
	var n int64
	for i, c := range cols {
		for _, row := range plan {
			var v int64
			if _, err := fmt.Sscan(row[i], &v); err == nil && strings.EqualFold(c, "rows") {
				n = max(n, v)
			}
		}
	}
	return n, nil
}
