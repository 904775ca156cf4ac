package main

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/examples/shop"
	"github.com/tandemdb/tandem/internal/dblock"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

// problems collects what a check found wrong.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// checkLocks: neither the runner lock nor the backfill lock may be held
// once the last run has exited. On SQLite, where the lock is the exclusive
// transaction, this is also what is checked right after each kill.
func checkLocks(ctx context.Context, db *gorm.DB, p *problems) {
	for _, key := range []string{migrations.LockKey, migrations.LockKey + "-backfill"} {
		held, err := dblock.Held(ctx, db, key)
		switch {
		case err != nil:
			p.addf("lock %q: %v", key, err)
		case held:
			p.addf("lock %q is still held after the runner exited", key)
		}
		if dialect.Of(db) == dialect.SQLite {
			return // one lock per file, whatever the key
		}
	}
}

// wantHistory is the migration history every trial must end with: each
// migration once, applied.
func wantHistory(ph phase) []string {
	ids := []string{"1.0_baseline", "2.0_expand01", "2.0_expand02"}
	if ph == phaseContract {
		ids = append(ids, "2.0_contract01")
	}
	sort.Strings(ids)
	return ids
}

func checkHistory(ctx context.Context, db *gorm.DB, ph phase, p *problems) []store.Migration {
	rows, err := store.History(ctx, db)
	if err != nil {
		p.addf("history: %v", err)
		return nil
	}
	var ids []string
	for _, r := range rows {
		ids = append(ids, r.ID)
		if r.Status != store.StatusApplied {
			p.addf("history: %s is %s, not applied (statement %d of %d; %s)", r.ID, r.Status, r.StatementsDone, r.StatementsTotal, firstLine(r.Error))
		} else if r.StatementsDone != r.StatementsTotal {
			p.addf("history: %s applied with %d of %d statements done", r.ID, r.StatementsDone, r.StatementsTotal)
		}
	}
	sort.Strings(ids)
	if want := wantHistory(ph); !slices.Equal(ids, want) {
		p.addf("history holds %v, want %v", ids, want)
	}
	return rows
}

// checkStates: the release states say where the protocol stands.
func checkStates(ctx context.Context, db *gorm.DB, ph phase, p *problems) {
	rows, err := store.ReleaseStates(ctx, db)
	if err != nil {
		p.addf("release states: %v", err)
		return
	}
	got := map[string]string{}
	for _, r := range rows {
		got[r.Release] = r.State
	}
	want := map[string]string{"1.0": string(versions.StateContracted), "2.0": string(versions.StateExpanded)}
	if ph == phaseContract {
		want["2.0"] = string(versions.StateContracted)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		p.addf("release states %v, want %v", got, want)
	}
}

// checkJournal: each state transition is journaled once; a transition
// journaled twice was made twice.
func checkJournal(ctx context.Context, db *gorm.DB, p *problems) {
	events, err := store.Events(ctx, db, 0)
	if err != nil {
		p.addf("journal: %v", err)
		return
	}
	seen := map[string]int{}
	for _, e := range events {
		if e.Action == "state" || e.Action == "baseline" {
			seen[e.Action+" "+e.Release+": "+e.Detail]++
		}
	}
	for ev, n := range seen {
		if n > 1 {
			p.addf("journal: %q recorded %d times", ev, n)
		}
	}
}

var (
	appliedLine = regexp.MustCompile(`(?m) (\d[\w.]*_\w+): applied in `)
	phaseDone   = regexp.MustCompile(`(?m) (expand|migrate|contract) up to \S+: \d+ migration\(s\) applied`)
)

// checkAppliedOnce: a run logs "<id>: applied in" once the migration has
// committed; two runs logging it for one id applied it twice. On SQLite the
// whole run is one transaction that commits when the runner lets the lock
// go, after which it logs "<phase> up to": a run killed before that line
// committed nothing.
func checkAppliedOnce(d dialect.Name, runs []runResult, p *problems) {
	by := map[string][]int{}
	for i, r := range runs {
		if d == dialect.SQLite && !phaseDone.MatchString(r.stderr) {
			continue
		}
		for _, m := range appliedLine.FindAllStringSubmatch(r.stderr, -1) {
			by[m[1]] = append(by[m[1]], i+1)
		}
	}
	for id, rs := range by {
		if len(rs) > 1 {
			p.addf("%s was applied by runs %v", id, rs)
		}
	}
}

func checkSchema(ctx context.Context, db *gorm.DB, d dialect.Name, ref []string, p *problems) []string {
	got, err := schemaOf(ctx, db, d)
	if err != nil {
		p.addf("%v", err)
		return nil
	}
	if ref != nil {
		if diff := diffLines(ref, got); len(diff) > 0 {
			p.addf("schema differs from an uninterrupted run's:\n    %s", strings.Join(diff, "\n    "))
		}
	}
	return got
}

// column of a table read back for the checks.
type column struct {
	name string
	kind byte // 'i' integer, 's' string, 'f' float
}

func cols(spec string) []column {
	var out []column
	for _, f := range strings.Fields(spec) {
		name, kind, _ := strings.Cut(f, ":")
		out = append(out, column{name: name, kind: kind[0]})
	}
	return out
}

// The values compared are printed: integers in decimal, strings quoted,
// floats in their shortest form, NULL as NULL.
func vi(n int64) string   { return strconv.FormatInt(n, 10) }
func vs(s string) string  { return strconv.Quote(s) }
func vf(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
func vnull() string       { return "NULL" }
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// readTable returns the rows of table by id (the first column).
func readTable(ctx context.Context, db *gorm.DB, d dialect.Name, table string, cs []column) (map[int64][]string, error) {
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = dialect.QuoteIdent(d, c.name)
	}
	rows, err := db.WithContext(ctx).Raw("SELECT " + strings.Join(names, ", ") + " FROM " + dialect.QuoteIdent(d, table)).Rows()
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	out := map[int64][]string{}
	for rows.Next() {
		dest := make([]any, len(cs))
		for i, c := range cs {
			switch c.kind {
			case 'i':
				dest[i] = new(sql.NullInt64)
			case 'f':
				dest[i] = new(sql.NullFloat64)
			default:
				dest[i] = new(sql.NullString)
			}
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		vals := make([]string, len(cs))
		for i, x := range dest {
			vals[i] = vnull()
			switch v := x.(type) {
			case *sql.NullInt64:
				if v.Valid {
					vals[i] = vi(v.Int64)
				}
			case *sql.NullFloat64:
				if v.Valid {
					vals[i] = vf(v.Float64)
				}
			case *sql.NullString:
				if v.Valid {
					vals[i] = vs(v.String)
				}
			}
		}
		id, _ := strconv.ParseInt(vals[0], 10, 64)
		out[id] = vals
	}
	return out, rows.Err()
}

// expected is a table as it must be at the end of a trial.
type expected struct {
	table string
	cols  []column
	rows  map[int64][]string
}

// wantTables returns the tables whose every row a trial checks, and their
// rows, computed from the seeding rules.
func wantTables(s start) []expected {
	n := s.rows
	if s.fresh {
		n = 0
	}
	v1, v2 := vi(shop.V1.Stamp()), vi(shop.V2.Stamp())
	cust := expected{table: "customers", cols: cols("id:i name:s email:s given_name:s family_name:s obj_version:i"), rows: map[int64][]string{}}
	parc := expected{table: "parcels", cols: cols("id:i customer_id:i weight_lb:i weight_kg:f obj_version:i"), rows: map[int64][]string{}}
	archC := expected{table: migrations.ArchiveTable(shop.V2, "customers"), cols: cols("id:i name:s"), rows: map[int64][]string{}}
	archP := expected{table: migrations.ArchiveTable(shop.V2, "parcels"), cols: cols("id:i weight_lb:i"), rows: map[int64][]string{}}
	for i := 1; i <= n; i++ {
		id := int64(i)
		name, lb := seedName(i), seedLb(i)
		switch {
		case s.phase == phaseExpand:
			cust.rows[id] = []string{vi(id), vs(name), vs(seedEmail(i)), vnull(), vnull(), v1}
			parc.rows[id] = []string{vi(id), vi(id), vi(int64(lb)), vnull(), v1}
			continue
		case preConverted(i):
			name = shop.JoinName(preGiven(i), preFamily(i))
			lb = shop.KgToLb(preKg(i))
			cust.rows[id] = []string{vi(id), vs(name), vs(seedEmail(i)), vs(preGiven(i)), vs(preFamily(i)), v2}
			parc.rows[id] = []string{vi(id), vi(id), vi(int64(lb)), vf(preKg(i)), v2}
		default:
			given, family := shop.SplitName(name)
			cust.rows[id] = []string{vi(id), vs(name), vs(seedEmail(i)), vs(given), vs(family), v2}
			parc.rows[id] = []string{vi(id), vi(id), vi(int64(lb)), vf(shop.LbToKg(lb)), v2}
		}
		archC.rows[id] = []string{vi(id), vs(name)}
		archP.rows[id] = []string{vi(id), vi(int64(lb))}
	}
	if s.phase != phaseContract {
		return []expected{cust, parc}
	}
	// The contract dropped the deprecated columns; the archives hold them.
	return []expected{drop(cust, "name"), drop(parc, "weight_lb"), archC, archP}
}

// drop removes a column from an expected table.
func drop(e expected, col string) expected {
	i := slices.IndexFunc(e.cols, func(c column) bool { return c.name == col })
	out := expected{table: e.table, cols: slices.Delete(slices.Clone(e.cols), i, i+1), rows: map[int64][]string{}}
	for id, r := range e.rows {
		out.rows[id] = slices.Delete(slices.Clone(r), i, i+1)
	}
	return out
}

// checkRows compares every row of every checked table with what it must be.
func checkRows(ctx context.Context, db *gorm.DB, d dialect.Name, s start, p *problems) {
	for _, e := range wantTables(s) {
		got, err := readTable(ctx, db, d, e.table, e.cols)
		if err != nil {
			p.addf("%v", err)
			continue
		}
		if len(got) != len(e.rows) {
			p.addf("%s has %d rows, want %d", e.table, len(got), len(e.rows))
		}
		var bad []string
		ids := make([]int64, 0, len(e.rows))
		for id := range e.rows {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			want := e.rows[id]
			g, ok := got[id]
			switch {
			case !ok:
				bad = append(bad, fmt.Sprintf("row %d lost", id))
			case !slices.Equal(g, want):
				bad = append(bad, fmt.Sprintf("row %d is (%s), want (%s)", id, strings.Join(g, ", "), strings.Join(want, ", ")))
			}
		}
		if len(bad) > 0 {
			more := ""
			if len(bad) > 5 {
				more = fmt.Sprintf("\n    ... and %d more", len(bad)-5)
				bad = bad[:5]
			}
			p.addf("%s: %d wrong row(s):\n    %s%s", e.table, len(bad), strings.Join(bad, "\n    "), more)
		}
	}
}

// checkCoverage: after migrate (and contract) every row of every versioned
// table carries 2.0, and each table's backfill is recorded as done.
func checkCoverage(ctx context.Context, db *gorm.DB, s start, p *problems) {
	if s.phase == phaseExpand {
		return
	}
	r, err := newRunner(db)
	if err != nil {
		p.addf("coverage: %v", err)
		return
	}
	cov, err := r.Coverage(ctx, shop.V2, migrations.CoverageOptions{StaleKeys: -1})
	if err != nil {
		p.addf("coverage: %v", err)
		return
	}
	if !cov.Complete || cov.Percent != 100 || cov.Rows != int64(2*s.rows) {
		p.addf("coverage of 2.0: %.2f%% of %d rows (%d stale), want 100%% of %d", cov.Percent, cov.Rows, cov.Stale, 2*s.rows)
	}
	bfs, err := store.Backfills(ctx, db)
	if err != nil {
		p.addf("backfills: %v", err)
		return
	}
	var got []string
	for _, b := range bfs {
		got = append(got, b.Release+" "+b.Table+" "+b.Status)
	}
	if want := []string{"2.0 customers done", "2.0 parcels done"}; !slices.Equal(got, want) {
		p.addf("backfills %v, want %v", got, want)
	}
}
