package main

import (
	"math"
	"strings"
	"testing"
)

const round1 = `goos: linux
goarch: amd64
pkg: github.com/tandemdb/tandem/compat
cpu: Intel(R) Xeon(R) Processor
BenchmarkFirst
BenchmarkFirst/sqlite/unversioned/paired
BenchmarkFirst/sqlite/unversioned/paired-2   	      50	     230 ns/op	      57.00 plain-allocs/op	     90 plain-cpu-ns/op	     100 plain-ns/op	      58.00 plugin-allocs/op	     99 plugin-cpu-ns/op	     110 plugin-ns/op
BenchmarkFirst/sqlite/converters/paired-2   	      50	     450 ns/op	      57.00 plain-allocs/op	     200 plain-ns/op	      60.00 plugin-allocs/op	     220 plugin-ns/op
BenchmarkFirst/postgres
    bench_test.go:235: dbtest: postgres server not available: connection refused
        Start the server.
--- SKIP: BenchmarkFirst/postgres
BenchmarkBackfill/rows-2   	      10	     5000 ns/op	    10 B/op	      1 allocs/op	  2000 rows/s
PASS
ok  	github.com/tandemdb/tandem/compat	0.063s
`

func TestParseAndPair(t *testing.T) {
	var o output
	for _, r := range []string{
		round1,
		strings.Replace(round1, "     110 plugin-ns/op", "     130 plugin-ns/op", 1),
		strings.Replace(round1, "     110 plugin-ns/op", "     104 plugin-ns/op", 1),
	} {
		if err := o.parse(strings.NewReader(r)); err != nil {
			t.Fatal(err)
		}
	}
	if o.cpu != "Intel(R) Xeon(R) Processor" {
		t.Errorf("cpu = %q", o.cpu)
	}
	if len(o.skips) != 1 || o.skips[0].name != "BenchmarkFirst/postgres" || o.skips[0].why != "dbtest: postgres server not available: connection refused" {
		t.Errorf("skips = %+v", o.skips)
	}
	gs := groups(o.results)
	if len(gs) != 2 || gs[0].name != "First" || len(gs[0].pairs) != 2 || gs[1].name != "Backfill" || len(gs[1].singles) != 1 {
		t.Fatalf("groups = %+v", gs)
	}
	p := gs[0].pairs[0]
	if p.key != "sqlite/unversioned" || len(p.plugin.samples) != 3 {
		t.Fatalf("pair = %+v", p)
	}
	if got := p.overhead(); math.Abs(got-10) > 1e-9 { // median 110 over 100
		t.Errorf("overhead = %v, want 10", got)
	}
	if got := p.plugin.spread("ns/op"); math.Abs(got-(130-104)/110.0*100) > 1e-9 {
		t.Errorf("spread = %v", got)
	}
	if got := others(gs[1].singles[0]); got != "2000 rows/s" {
		t.Errorf("others = %q", got)
	}

	var w strings.Builder
	render(&w, machine{}, []string{"go test"}, "go run ./internal/bench", &o, suites)
	doc := w.String()
	for _, want := range []string{
		"| sqlite/unversioned | 100 | 110 | +10.0% | +4.0% to +30.0% | +10.0% | 57 | 58 |",
		"| at most 5% | not met (noisy) |",
		"| sqlite/converters | 200 | 220 | +10.0% |",
		"| at most 15% | met |",
		"1 of 2 cases with a target meet it.",
		"**Not met**: compat First/sqlite/unversioned: +10.0% overhead (rounds +4.0% to +30.0%; CPU +10.0%), target at most 5%, noisy.",
		"| sqlite/converters | 200 | 220 | +10.0% | +10.0% to +10.0% | - | 57 | 60 |",
		"Skipped: compat BenchmarkFirst/postgres",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("report lacks %q:\n%s", want, doc)
		}
	}
}

func TestTrimProcsAndNum(t *testing.T) {
	for in, want := range map[string]string{"BenchmarkA/b-2": "BenchmarkA/b", "BenchmarkA/converters-email": "BenchmarkA/converters-email", "BenchmarkA": "BenchmarkA"} {
		if got := trimProcs(in); got != want {
			t.Errorf("trimProcs(%q) = %q, want %q", in, got, want)
		}
	}
	r := &result{samples: []map[string]float64{{"ns/op": 1234567}}}
	if got := num(r, "ns/op"); got != "1,234,567" {
		t.Errorf("num = %q", got)
	}
}
