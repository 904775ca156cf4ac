package main

import (
	"strings"
	"testing"
)

const migrationsRound = `goos: linux
goarch: amd64
pkg: github.com/tandemdb/tandem/migrations
cpu: Intel(R) Xeon(R) Processor
BenchmarkBackfill/postgres/rows=1M-2   	1	60000000000 ns/op	100000 update-rows/s	70000 sql-rows/s	0.7 sql-x-update	20000 go-rows/s	0.2 go-x-update	4500 sql-rows/batch	1500 go-rows/batch
BenchmarkCoverage/postgres/rows=10M/complete-2   	1	5000000 ns/op	0.05 any-ms	0.04 any-first-ms	0.1 any-max-ms	0.04 count-ms	0.05 count-first-ms	0.1 count-max-ms
BenchmarkCoverage/postgres/rows=10M/stale-1%-2   	1	5000000 ns/op	0.05 any-ms	0.04 any-first-ms	0.1 any-max-ms	150 count-ms	160 count-first-ms	170 count-max-ms
BenchmarkCoverage/postgres/rows=1M/complete-2   	1	5000000 ns/op	300 any-ms	0.04 any-first-ms	400 any-max-ms	0.04 count-ms	0.05 count-first-ms	0.1 count-max-ms
PASS
ok  	github.com/tandemdb/tandem/migrations	100s
`

func TestMetricTargets(t *testing.T) {
	var o output
	second := strings.Replace(migrationsRound, "0.2 go-x-update", "0.3 go-x-update", 1)
	for _, r := range []string{migrationsRound, second, migrationsRound} {
		if err := o.parse(strings.NewReader(r)); err != nil {
			t.Fatal(err)
		}
	}
	vs := metricVerdicts(o.results, []suite{migrationsSuite})
	got := map[string]string{}
	for _, v := range vs {
		got[strings.TrimPrefix(v.r.name, "Benchmark")+" "+v.t.unit] = v.String()
	}
	want := map[string]string{
		"Backfill/postgres/rows=1M sql-x-update":             "met",
		"Backfill/postgres/rows=1M go-x-update":              "not met (noisy)",
		"Coverage/postgres/rows=10M/complete count-ms":       "met",
		"Coverage/postgres/rows=10M/complete count-first-ms": "met",
		"Coverage/postgres/rows=10M/complete any-ms":         "met",
		"Coverage/postgres/rows=10M/complete any-first-ms":   "met",
	}
	if len(got) != len(want) {
		t.Errorf("verdicts %v, want %v (the stale and 1M cases have no target)", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %q, want %q", k, got[k], w)
		}
	}

	var w strings.Builder
	render(&w, machine{}, []string{"go test"}, "go run ./internal/bench", &o, []suite{migrationsSuite})
	doc := w.String()
	for _, s := range []string{
		"- migrations, Backfill, SQL backfill rows/s over one plain UPDATE's (1M rows): sql-x-update at least 0.6 (issue 5).",
		"5 of 6 cases with a target meet it.",
		"**Not met**: migrations Backfill/postgres/rows=1M: go-x-update 0.20 (rounds 0.20 to 0.30), target at least 0.25, noisy.",
		"## migrations: Backfill\n\n| case | plain UPDATE rows/s | SQL backfill rows/s | SQL / UPDATE |",
		"| postgres/rows=1M | 100,000 | 70,000 | 0.70 (rounds 0.70 to 0.70; at least 0.6): **met** | 20,000 | 0.20 (rounds 0.20 to 0.30; at least 0.25): **not met (noisy)** | 4,500 | 1,500 |",
		"| postgres/rows=10M/stale-1% | 0.05 | 0.04 | 0.10 | 150 | 160 | 170 |",
		"## About the migrations benchmarks",
	} {
		if !strings.Contains(doc, s) {
			t.Errorf("report lacks %q:\n%s", s, doc)
		}
	}
}

func TestMetricNum(t *testing.T) {
	for v, want := range map[float64]string{1234567: "1,234,567", 123.4: "123", 12.34: "12.3", 1.234: "1.23", 0.5: "0.50", 0.01234: "0.0123", 0: "0.00"} {
		if got := metricNum(v); got != want {
			t.Errorf("metricNum(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestMetricCountColumn: a column that counts (runs) prints whole numbers,
// the ratios next to it keep their decimals.
func TestMetricCountColumn(t *testing.T) {
	var o output
	round := "pkg: github.com/tandemdb/tandem/migrations\n" +
		"BenchmarkBackfillLatency/postgres/rows=1M/sql-2   	1	60000000000 ns/op	1.4 p99-x-base	1.3 run-p99-x-base-min	1.6 run-p99-x-base-max	3 runs\n" +
		"PASS\n"
	if err := o.parse(strings.NewReader(round)); err != nil {
		t.Fatal(err)
	}
	var w strings.Builder
	render(&w, machine{}, []string{"go test"}, "go run ./internal/bench", &o, []suite{migrationsSuite})
	if doc := w.String(); !strings.Contains(doc, "| 1.30 | 1.60 | 3 |") {
		t.Errorf("report lacks the row's \"| 1.30 | 1.60 | 3 |\":\n%s", doc)
	}
}
