package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// metricTarget is a bound on a metric a benchmark reports itself
// (b.ReportMetric: rows/s ratios, latencies), for the results of one group
// whose name has every segment in match and none in except.
type metricTarget struct {
	group string   // the benchmark function without "Benchmark": "Backfill"
	match []string // segments the name must have, e.g. "rows=10M", "complete"
	// except are segments that make a case a reference without the target,
	// e.g. "sql-off": options that turn a default safeguard off.
	except []string
	unit   string // the metric: "sql-x-update"
	op     string // how the metric compares with limit: ">=", "<=" or "<"
	limit  float64
	what   string // what the summary calls it: "SQL backfill / plain UPDATE"
	why    string // where the target comes from: "issue 5"
}

func (t metricTarget) applies(pkg string, r *result) bool {
	segs := strings.Split(r.name, "/")
	if r.pkg != pkg || strings.TrimPrefix(segs[0], "Benchmark") != t.group {
		return false
	}
	for _, m := range t.match {
		if !slices.Contains(segs[1:], m) {
			return false
		}
	}
	for _, m := range t.except {
		if slices.Contains(segs[1:], m) {
			return false
		}
	}
	_, ok := r.median(t.unit)
	return ok
}

func (t metricTarget) bound() string {
	return map[string]string{">=": "at least ", "<=": "at most ", "<": "below "}[t.op] + fmt.Sprintf("%g", t.limit)
}

func (t metricTarget) ok(v float64) bool {
	switch t.op {
	case ">=":
		return v >= t.limit
	case "<=":
		return v <= t.limit
	default:
		return v < t.limit
	}
}

// column is a metric shown as a column of a group's table.
type column struct {
	unit, title string
}

// countUnits are the metrics that count whole things, printed without
// decimals.
var countUnits = map[string]bool{"runs": true}

// metricVerdict is the outcome of one result against a metricTarget.
type metricVerdict struct {
	t          metricTarget
	r          *result
	got        float64 // median over the rounds
	lo, hi     float64 // lowest and highest round
	met, noisy bool
}

func judgeMetric(t metricTarget, r *result) metricVerdict {
	v := metricVerdict{t: t, r: r, lo: math.Inf(1), hi: math.Inf(-1)}
	v.got, _ = r.median(t.unit)
	v.met = t.ok(v.got)
	for _, s := range r.samples {
		if x, ok := s[t.unit]; ok {
			v.lo, v.hi = min(v.lo, x), max(v.hi, x)
			v.noisy = v.noisy || t.ok(x) != v.met
		}
	}
	return v
}

func (v metricVerdict) String() string {
	s := "not met"
	if v.met {
		s = "met"
	}
	if v.noisy {
		s += " (noisy)"
	}
	return s
}

// rounds formats the lowest and highest round, or "" for one round.
func (v metricVerdict) rounds() string {
	if len(v.r.samples) < 2 {
		return ""
	}
	return fmt.Sprintf("rounds %s to %s", metricNum(v.lo), metricNum(v.hi))
}

// metricVerdicts judges every result against the metric targets of its
// suite, in the order of the results.
func metricVerdicts(results []*result, suites []suite) []metricVerdict {
	var out []metricVerdict
	for _, r := range results {
		for _, s := range suites {
			for _, t := range s.metrics {
				if t.applies(s.importPath(), r) {
					out = append(out, judgeMetric(t, r))
				}
			}
		}
	}
	return out
}

// columnsFor returns the columns a suite declares for group g, if any.
func columnsFor(suites []suite, g *group) []column {
	for _, s := range suites {
		if s.importPath() == g.pkg {
			return s.columns[g.name]
		}
	}
	return nil
}

// renderColumns writes a group's results as a table of the declared
// metrics: the median over the rounds, and where a target applies, its
// bound, the spread of the rounds and the verdict.
func renderColumns(w *strings.Builder, g *group, cols []column, verdicts []metricVerdict) {
	fmt.Fprintf(w, "| case |")
	for _, c := range cols {
		fmt.Fprintf(w, " %s |", c.title)
	}
	fmt.Fprintf(w, "\n|---|%s\n", strings.Repeat("---:|", len(cols)))
	for _, r := range g.singles {
		fmt.Fprintf(w, "| %s |", strings.TrimPrefix(r.name, "Benchmark"+g.name+"/"))
		for _, c := range cols {
			v, ok := r.median(c.unit)
			if !ok {
				fmt.Fprintf(w, " - |")
				continue
			}
			cell := metricNum(v)
			if countUnits[c.unit] {
				cell = fmt.Sprintf("%.0f", v)
			}
			for _, mv := range verdicts {
				if mv.r == r && mv.t.unit == c.unit {
					extra := mv.t.bound()
					if rs := mv.rounds(); rs != "" {
						extra = rs + "; " + extra
					}
					cell = fmt.Sprintf("%s (%s): **%s**", cell, extra, mv)
				}
			}
			fmt.Fprintf(w, " %s |", cell)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

// metricNum formats a metric with about three significant digits, and
// thousands separators from 1,000 up.
func metricNum(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "-"
	case a >= 1000:
		s := fmt.Sprintf("%.0f", v)
		for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		return s
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 0.1 || a == 0:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
