package main

import (
	"bufio"
	"io"
	"strconv"
	"strings"
)

// result is every sample of one benchmark: one map of unit to value
// ("ns/op", "allocs/op", ...) per run.
type result struct {
	pkg, name string
	samples   []map[string]float64
}

// median returns the median of unit over the samples, and whether any
// sample has it.
func (r *result) median(unit string) (float64, bool) {
	var vs []float64
	for _, s := range r.samples {
		if v, ok := s[unit]; ok {
			vs = append(vs, v)
		}
	}
	return median(vs), len(vs) > 0
}

// spread returns (max-min)/median of unit in percent: how much the runs
// disagree.
func (r *result) spread(unit string) float64 {
	med, ok := r.median(unit)
	if !ok || med == 0 {
		return 0
	}
	lo, hi := r.samples[0][unit], r.samples[0][unit]
	for _, s := range r.samples {
		lo, hi = min(lo, s[unit]), max(hi, s[unit])
	}
	return (hi - lo) / med * 100
}

// skip is a benchmark go test skipped, with the first line of its reason.
type skip struct {
	pkg, name, why string
}

// output is what the benchmark runs printed, merged.
type output struct {
	cpu     string
	results []*result // in order of first appearance
	index   map[string]*result
	skips   []skip
}

// parse reads `go test -bench` output and adds its samples to o.
func (o *output) parse(r io.Reader) error {
	if o.index == nil {
		o.index = map[string]*result{}
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var pkg string
	var logged []string // what the running benchmark logged (go test -v)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "pkg: "):
			pkg = strings.TrimPrefix(line, "pkg: ")
		case strings.HasPrefix(line, "cpu: "):
			o.cpu = strings.TrimPrefix(line, "cpu: ")
		case strings.HasPrefix(trimmed, "--- SKIP: "):
			name := strings.Fields(strings.TrimPrefix(trimmed, "--- SKIP: "))[0]
			if !o.skipped(pkg, name) {
				why := "no reason given"
				if len(logged) > 0 {
					why = logged[0]
					// Drop the file:line: prefix of t.Log.
					if i := strings.Index(why, ": "); i > 0 && strings.Contains(why[:i], ".go:") {
						why = why[i+2:]
					}
				}
				o.skips = append(o.skips, skip{pkg: pkg, name: name, why: why})
			}
		case strings.HasPrefix(line, "    ") && trimmed != "":
			logged = append(logged, trimmed)
			continue
		default:
			if name, s, ok := parseLine(line); ok {
				key := pkg + " " + name
				res := o.index[key]
				if res == nil {
					res = &result{pkg: pkg, name: name}
					o.index[key] = res
					o.results = append(o.results, res)
				}
				res.samples = append(res.samples, s)
			}
		}
		logged = logged[:0]
	}
	return sc.Err()
}

func (o *output) skipped(pkg, name string) bool {
	for _, s := range o.skips {
		if s.pkg == pkg && s.name == name {
			return true
		}
	}
	return false
}

// parseLine reads one result line:
//
//	BenchmarkCreate/sqlite/unversioned/plain-2   2000   45678 ns/op   3456 B/op   56 allocs/op
func parseLine(line string) (string, map[string]float64, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f)%2 != 0 || !strings.HasPrefix(f[0], "Benchmark") {
		return "", nil, false
	}
	if _, err := strconv.Atoi(f[1]); err != nil {
		return "", nil, false
	}
	s := map[string]float64{}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return "", nil, false
		}
		s[f[i+1]] = v
	}
	return trimProcs(f[0]), s, true
}

// trimProcs removes the -GOMAXPROCS suffix go test adds to a name.
func trimProcs(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 {
		return name
	}
	if _, err := strconv.Atoi(name[i+1:]); err != nil {
		return name
	}
	return name[:i]
}
