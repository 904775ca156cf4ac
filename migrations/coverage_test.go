package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// The coverage test models: an integer key, a composite key of strings, a
// complete table, an empty one, and an unversioned one.
type covAccount struct {
	ID   int64  `gorm:"primaryKey;autoIncrement:false"`
	Name string `gorm:"size:50"`
	model.Stamp
}

func (covAccount) TableName() string { return "cov_accounts" }

type covLine struct {
	Tenant string `gorm:"primaryKey;size:20"`
	Code   string `gorm:"primaryKey;size:20"`
	model.Stamp
}

func (covLine) TableName() string { return "cov_lines" }

type covDone struct {
	ID int64 `gorm:"primaryKey;autoIncrement:false"`
	model.Stamp
}

func (covDone) TableName() string { return "cov_done" }

type covEmpty struct {
	ID int64 `gorm:"primaryKey;autoIncrement:false"`
	model.Stamp
}

func (covEmpty) TableName() string { return "cov_empty" }

type covPlain struct {
	ID int64 `gorm:"primaryKey;autoIncrement:false"`
}

func (covPlain) TableName() string { return "cov_plain" }

// covGone is registered but its table does not exist (a later contract
// dropped it).
type covGone struct {
	ID int64 `gorm:"primaryKey"`
	model.Stamp
}

func (covGone) TableName() string { return "cov_gone" }

// registerModels creates the tables of the given models (except cov_gone)
// and records their declarations for release rel, as the compat plugin does
// at start-up.
func registerModels(t *testing.T, g *gorm.DB, rel string, models ...any) {
	t.Helper()
	ctx := t.Context()
	if err := store.Ensure(ctx, g); err != nil {
		t.Fatal(err)
	}
	for _, m := range models {
		spec, err := model.SpecOf(g, m)
		if err != nil {
			t.Fatal(err)
		}
		if spec.Table != "cov_gone" {
			if err := g.AutoMigrate(m); err != nil {
				t.Fatalf("create %s: %v", spec.Table, err)
			}
		}
		row := &store.ModelSpec{Release: rel, Table: spec.Table, ReleaseStamp: ver(rel).Stamp(), Model: spec.Model,
			Spec: compat.SpecJSON(spec), RegisteredAt: store.Now(), Instance: "coverage-test"}
		if err := store.RegisterModel(ctx, g, row); err != nil {
			t.Fatal(err)
		}
	}
}

// stamp names the stamps the tests write.
var (
	s0  = int64(0)
	s10 = ver("1.0").Stamp()
	m10 = ver("1.0").MarkedStamp()
	s20 = ver("2.0").Stamp()
	m20 = ver("2.0").MarkedStamp()
)

// seedCoverage fills the test tables.
func seedCoverage(t *testing.T, db *dbtest.DB) {
	t.Helper()
	db.Exec(t, "INSERT INTO cov_accounts (id, name, obj_version) VALUES (1, 'a', ?), (2, 'b', ?), (3, 'c', ?), (4, 'd', ?), (5, 'e', ?), (6, 'f', ?), (7, 'g', ?), (8, 'h', ?)",
		s10, s10, s20, s20, s20, m20, s0, m10)
	db.Exec(t, "INSERT INTO cov_lines (tenant, code, obj_version) VALUES ('acme', 'b', ?), ('acme', 'a', ?), ('zeta', 'a', ?)", s10, s10, s20)
	db.Exec(t, "INSERT INTO cov_done (id, obj_version) VALUES (1, ?), (2, ?), (3, ?)", s20, m20, s20)
	db.Exec(t, "INSERT INTO cov_plain (id) VALUES (1), (2)")
}

func TestCoverage(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		registerModels(t, db.Gorm, "2.0", &covAccount{}, &covLine{}, &covDone{}, &covEmpty{}, &covPlain{}, &covGone{})
		seedCoverage(t, db)
		// 1.0 is known to the database only, 2.0 to the model registry:
		// the runner has no migration files.
		if err := store.ForceState(ctx, db.Gorm, ver("1.0"), versions.StateContracted, "test"); err != nil {
			t.Fatal(err)
		}
		r, err := migrations.New(db.Gorm, nil)
		if err != nil {
			t.Fatal(err)
		}

		tables, err := r.VersionedTables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, vt := range tables {
			got = append(got, fmt.Sprintf("%s%v@%s", vt.Table, vt.PrimaryKey, vt.Stamp))
		}
		wantSlice(t, "versioned tables", got, []string{
			"cov_accounts[id]@obj_version", "cov_done[id]@obj_version", "cov_empty[id]@obj_version", "cov_lines[tenant code]@obj_version",
		})

		cov, err := r.Coverage(ctx, ver("2.0"), migrations.CoverageOptions{Histogram: true})
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "release", cov.Release, "2.0")
		want := []migrations.TableCoverage{
			{Table: "cov_accounts", Rows: 8, Stale: 4, Percent: 50, Oldest: migrations.BeforeTandem,
				Histogram: []migrations.VersionCount{
					{Version: "before tandem", Stamp: s0, Rows: 1},
					{Version: "1.0", Stamp: s10, Rows: 2},
					{Version: "1.0", Stamp: m10, Marked: true, Rows: 1},
					{Version: "2.0", Stamp: s20, Rows: 3},
					{Version: "2.0", Stamp: m20, Marked: true, Rows: 1},
				},
				StaleKeys: []string{"7", "1", "2", "8"}},
			{Table: "cov_done", Rows: 3, Percent: 100, Oldest: "2.0", Histogram: []migrations.VersionCount{
				{Version: "2.0", Stamp: s20, Rows: 2}, {Version: "2.0", Stamp: m20, Marked: true, Rows: 1},
			}},
			{Table: "cov_empty", Percent: 100, Histogram: []migrations.VersionCount{}},
			{Table: "cov_lines", Rows: 3, Stale: 2, Percent: 100.0 / 3, Oldest: "1.0", Histogram: []migrations.VersionCount{
				{Version: "1.0", Stamp: s10, Rows: 2}, {Version: "2.0", Stamp: s20, Rows: 1},
			}, StaleKeys: []string{"acme,a", "acme,b"}},
		}
		wantCoverage(t, cov.Tables, want)
		wantEqual(t, "rows", cov.Rows, 14)
		wantEqual(t, "stale", cov.Stale, 6)
		wantEqual(t, "percent", cov.Percent, 800.0/14)
		wantEqual(t, "complete", cov.Complete, false)
		wantEqual(t, "estimated", cov.Estimated, false)

		// Without the histogram the numbers come from CountStale and
		// COUNT(*); the sample size is an option.
		cov, err = r.Coverage(ctx, ver("2.0"), migrations.CoverageOptions{StaleKeys: 2})
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			want[i].Histogram = nil
		}
		want[0].StaleKeys = []string{"7", "1"}
		wantCoverage(t, cov.Tables, want)
		cov, err = r.Coverage(ctx, ver("2.0"), migrations.CoverageOptions{StaleKeys: -1})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range cov.Tables {
			if len(tc.StaleKeys) > 0 {
				t.Errorf("%s: stale keys %v with StaleKeys < 0", tc.Table, tc.StaleKeys)
			}
		}

		// At 1.0 only the row from before tandem is stale: 1.0 marked
		// counts as at 1.0.
		cov, err = r.Coverage(ctx, ver("1.0"), migrations.CoverageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "stale at 1.0", cov.Tables[0].Stale, 1)
		wantEqual(t, "percent at 1.0", cov.Tables[0].Percent, 87.5)
		wantSlice(t, "stale keys at 1.0", cov.Tables[0].StaleKeys, []string{"7"})

		accounts := tables[0]
		for _, tt := range []struct {
			table migrations.VersionedTable
			rel   string
			any   bool
			n     int64
		}{
			{accounts, "2.0", true, 4}, {accounts, "1.0", true, 1}, {tables[1], "2.0", false, 0},
			{tables[2], "2.0", false, 0}, {tables[3], "2.0", true, 2}, {tables[3], "1.0", false, 0},
		} {
			anyStale, err := migrations.AnyStale(ctx, db.Gorm, tt.table, ver(tt.rel))
			if err != nil {
				t.Fatal(err)
			}
			n, err := migrations.CountStale(ctx, db.Gorm, tt.table, ver(tt.rel))
			if err != nil {
				t.Fatal(err)
			}
			if anyStale != tt.any || n != tt.n {
				t.Errorf("%s below %s: AnyStale %v, CountStale %d; want %v, %d", tt.table.Table, tt.rel, anyStale, n, tt.any, tt.n)
			}
		}

		// A release neither the source nor the database knows is bad input.
		_, err = r.Coverage(ctx, ver("3.0"), migrations.CoverageOptions{})
		ue := asError[*migrations.UnknownReleaseError](t, err)
		wantEqual(t, "unknown release", ue.Release, ver("3.0"))
		wantSlice(t, "known releases", ue.Known, []versions.Version{ver("1.0"), ver("2.0")})
		if !errors.Is(err, migrations.ErrUnknownRelease) || migrations.ExitCode(err) != migrations.ExitError {
			t.Errorf("unknown release: %v (exit %d)", err, migrations.ExitCode(err))
		}
		// One the migration files name is known.
		withFiles := newRunner(t, db.Gorm, files{"2.5_expand01_noop.sql": "CREATE TABLE cov_noop (id INT PRIMARY KEY);\n"})
		cov, err = withFiles.Coverage(ctx, ver("2.5"), migrations.CoverageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "stale at 2.5", cov.Stale, cov.Rows)

		// The backfill's outcome: every row at 2.0 or later.
		db.Exec(t, "UPDATE cov_accounts SET obj_version = ? WHERE obj_version < ?", s20, s20)
		db.Exec(t, "UPDATE cov_lines SET obj_version = ? WHERE obj_version < ?", m20, s20)
		cov, err = r.Coverage(ctx, ver("2.0"), migrations.CoverageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !cov.Complete || cov.Stale != 0 || cov.Percent != 100 || cov.Rows != 14 {
			t.Errorf("after the backfill: %+v", cov)
		}
		for _, tc := range cov.Tables {
			if tc.Stale != 0 || tc.Percent != 100 || len(tc.StaleKeys) > 0 {
				t.Errorf("after the backfill: %+v", tc)
			}
		}
	})
}

// wantCoverage compares table coverages exactly.
func wantCoverage(t *testing.T, got, want []migrations.TableCoverage) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("coverage of %d tables, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Table != w.Table || g.Rows != w.Rows || g.Stale != w.Stale || g.Oldest != w.Oldest || g.Estimated != w.Estimated ||
			math.Abs(g.Percent-w.Percent) > 1e-9 {
			t.Errorf("coverage %+v\nwant     %+v", g, w)
		}
		wantSlice(t, w.Table+" stale keys", g.StaleKeys, w.StaleKeys)
		wantSlice(t, w.Table+" histogram", g.Histogram, w.Histogram)
	}
}

// covBig is a table big enough for the planners to prefer an index.
type covBig struct {
	ID int64 `gorm:"primaryKey;autoIncrement:false"`
	model.Stamp
}

func (covBig) TableName() string { return "cov_big" }

// fillBig writes n rows into cov_big, stale stamped 1.0 and the rest 2.0,
// then refreshes the planner's statistics.
func fillBig(t *testing.T, db *dbtest.DB, n, stale int) {
	t.Helper()
	rows := make([]covBig, n)
	for i := range rows {
		rows[i].ID = int64(i + 1)
		rows[i].ObjVersion = s20
		if i < stale {
			rows[i].ObjVersion = s10
		}
	}
	if err := db.Gorm.CreateInBatches(rows, 500).Error; err != nil {
		t.Fatal(err)
	}
	analyze(t, db)
}

func analyze(t *testing.T, db *dbtest.DB) {
	t.Helper()
	switch db.Dialect {
	case dialect.MySQL:
		db.Exec(t, "ANALYZE TABLE cov_big")
	default:
		db.Exec(t, "ANALYZE cov_big")
	}
}

// TestStaleQueriesUseTheIndex explains the very statements AnyStale and
// CountStale send, on a complete table of 5000 rows: each is answered from
// the obj_version index, without scanning the table.
func TestStaleQueriesUseTheIndex(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		registerModels(t, db.Gorm, "2.0", &covBig{})
		fillBig(t, db, 5000, 0)
		big := migrations.VersionedTable{Table: "cov_big", PrimaryKey: []string{"id"}, Stamp: "obj_version"}

		rec := &sqlRecorder{}
		traced := db.Gorm.Session(&gorm.Session{Logger: rec})
		if anyStale, err := migrations.AnyStale(ctx, traced, big, ver("2.0")); err != nil || anyStale {
			t.Fatalf("AnyStale on a complete table = %v, %v", anyStale, err)
		}
		if n, err := migrations.CountStale(ctx, traced, big, ver("2.0")); err != nil || n != 0 {
			t.Fatalf("CountStale on a complete table = %d, %v", n, err)
		}
		stmts := rec.all()
		if len(stmts) != 2 {
			t.Fatalf("AnyStale and CountStale sent %d statements, want 2: %q", len(stmts), stmts)
		}
		const index = "idx_cov_big_obj_version"
		for _, q := range stmts {
			plan := explain(t, db, q)
			t.Logf("%s\n%s", q, plan)
			switch db.Dialect {
			case dialect.Postgres:
				if !strings.Contains(plan, "Index Only Scan using "+index) || strings.Contains(plan, "Seq Scan") {
					t.Errorf("%s\nis not answered from %s:\n%s", q, index, plan)
				}
			case dialect.MySQL:
				// MIN is read from the index's end ("Select tables optimized
				// away"); the count is a range probe.
				rangeProbe := strings.Contains(plan, "key="+index+" ") && strings.Contains(plan, "type=range ")
				if !rangeProbe && !strings.Contains(plan, "Select tables optimized away") {
					t.Errorf("%s\nis not answered from %s:\n%s", q, index, plan)
				}
			default:
				if !strings.Contains(plan, "USING COVERING INDEX "+index) || strings.Contains(plan, "SCAN cov_big") {
					t.Errorf("%s\nis not answered from %s:\n%s", q, index, plan)
				}
			}
		}
	})
}

// explain returns the plan of q as text: PostgreSQL's lines, MySQL's rows
// as column=value pairs, SQLite's query plan details.
func explain(t *testing.T, db *dbtest.DB, q string) string {
	t.Helper()
	prefix := "EXPLAIN "
	if db.Dialect == dialect.SQLite {
		prefix = "EXPLAIN QUERY PLAN "
	}
	rows, err := db.Gorm.Raw(prefix + q).Rows()
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for i, c := range cols {
			v := vals[i]
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			switch {
			case db.Dialect == dialect.MySQL:
				fmt.Fprintf(&b, "%s=%v ", strings.ToLower(c), v)
			case db.Dialect == dialect.Postgres || c == "detail":
				fmt.Fprintf(&b, "%v", v)
			}
		}
		b.WriteString("\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// sqlRecorder is a GORM logger that keeps the SQL of every statement.
type sqlRecorder struct {
	mu    sync.Mutex
	stmts []string
}

func (r *sqlRecorder) LogMode(logger.LogLevel) logger.Interface { return r }
func (r *sqlRecorder) Info(context.Context, string, ...any)     {}
func (r *sqlRecorder) Warn(context.Context, string, ...any)     {}
func (r *sqlRecorder) Error(context.Context, string, ...any)    {}
func (r *sqlRecorder) Trace(_ context.Context, _ time.Time, fc func() (string, int64), _ error) {
	q, _ := fc()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stmts = append(r.stmts, q)
}

func (r *sqlRecorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.stmts...)
}

// TestCoverageEstimate: with Estimate, PostgreSQL and MySQL take the counts
// from the planner's statistics and say so; SQLite counts and says so.
// Whether a table is complete stays exact, even with outdated statistics.
func TestCoverageEstimate(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		registerModels(t, db.Gorm, "2.0", &covBig{})
		fillBig(t, db, 2000, 500)
		r, err := migrations.New(db.Gorm, nil)
		if err != nil {
			t.Fatal(err)
		}
		cov, err := r.Coverage(ctx, ver("2.0"), migrations.CoverageOptions{Estimate: true})
		if err != nil {
			t.Fatal(err)
		}
		tc := cov.Tables[0]
		t.Logf("estimated coverage: %+v", tc)
		if cov.Complete || tc.Oldest != "1.0" || len(tc.StaleKeys) != migrations.DefaultStaleKeys || tc.StaleKeys[0] != "1" {
			t.Errorf("estimate of a table with stale rows: %+v", cov)
		}
		switch db.Dialect {
		case dialect.SQLite:
			if tc.Estimated || cov.Estimated || tc.Rows != 2000 || tc.Stale != 500 || len(cov.Notes) != 1 || !strings.Contains(cov.Notes[0], "SQLite") {
				t.Errorf("SQLite estimate: %+v", cov)
			}
		case dialect.Postgres:
			// ANALYZE read every row of so small a table: close to exact.
			if !tc.Estimated || !cov.Estimated || tc.Rows < 1900 || tc.Rows > 2100 || tc.Stale < 450 || tc.Stale > 550 || math.Abs(tc.Percent-75) > 3 {
				t.Errorf("PostgreSQL estimate: %+v", cov)
			}
		case dialect.MySQL:
			// InnoDB samples pages: only the order of magnitude is sure.
			if !tc.Estimated || !cov.Estimated || tc.Rows < 1000 || tc.Rows > 4000 || tc.Stale < 1 || tc.Stale > tc.Rows {
				t.Errorf("MySQL estimate: %+v", cov)
			}
		}

		// The backfill's outcome, with the statistics not refreshed: the
		// table is complete, exactly.
		db.Exec(t, "UPDATE cov_big SET obj_version = ? WHERE obj_version < ?", s20, s20)
		cov, err = r.Coverage(ctx, ver("2.0"), migrations.CoverageOptions{Estimate: true})
		if err != nil {
			t.Fatal(err)
		}
		if tc := cov.Tables[0]; !cov.Complete || tc.Stale != 0 || tc.Percent != 100 || tc.Oldest != "2.0" || len(tc.StaleKeys) != 0 {
			t.Errorf("estimate of a complete table: %+v", cov)
		}
	})
}
