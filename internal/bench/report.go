package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// pair is one case measured without the plugin (plain) and with it
// (plugin), by one benchmark, Benchmark<Group>/<case...>/paired, that
// interleaves the two sides' operations and reports each side's figures as
// plain-<unit> and plugin-<unit> (plain-ns/op, plugin-allocs/op, ...).
type pair struct {
	key           string // the case: the name between the group and "paired"
	plain, plugin *result
}

// pairedLeaf is the last segment of a paired benchmark's name.
const pairedLeaf = "paired"

// split turns a paired benchmark's result into a pair: each side's samples
// hold its own figures under the usual units (ns/op, cpu-ns/op, allocs/op).
func split(key string, r *result) pair {
	p := pair{key: key, plain: &result{pkg: r.pkg, name: r.name + " (plain)"}, plugin: &result{pkg: r.pkg, name: r.name + " (plugin)"}}
	for _, s := range r.samples {
		a, b := map[string]float64{}, map[string]float64{}
		for unit, v := range s {
			if u, ok := strings.CutPrefix(unit, "plain-"); ok {
				a[u] = v
			} else if u, ok := strings.CutPrefix(unit, "plugin-"); ok {
				b[u] = v
			}
		}
		p.plain.samples = append(p.plain.samples, a)
		p.plugin.samples = append(p.plugin.samples, b)
	}
	return p
}

// overhead is the median over the rounds of the plugin's extra time in
// percent of plain GORM's (ns/op). Within a round the two sides ran
// interleaved, so comparing them round by round cancels the drift in the
// machine's load.
func (p pair) overhead() float64 { return median(p.rounds("ns/op")) }

// rounds returns, for each round, how much more of unit the plugin took than
// plain GORM, in percent. Samples pair up by position: round i of each side.
func (p pair) rounds(unit string) []float64 {
	var out []float64
	for i := 0; i < min(len(p.plain.samples), len(p.plugin.samples)); i++ {
		a, ok1 := p.plain.samples[i][unit]
		b, ok2 := p.plugin.samples[i][unit]
		if ok1 && ok2 && a > 0 {
			out = append(out, (b/a-1)*100)
		}
	}
	return out
}

// group is one top-level benchmark function of one package.
type group struct {
	pkg, name string
	pairs     []pair
	singles   []*result // results that are not paired
}

// target is an overhead limit for the pairs whose case has a segment named
// match, or starting with match and a dash ("converters-email" is a
// "converters" case).
type target struct {
	match string
	max   float64 // percent
	why   string
}

func (t target) applies(key string) bool {
	for _, seg := range strings.Split(key, "/") {
		if seg == t.match || strings.HasPrefix(seg, t.match+"-") {
			return true
		}
	}
	return false
}

// groups sorts results into groups and pairs, keeping their order.
func groups(results []*result) []*group {
	var out []*group
	byName := map[string]*group{}
	for _, r := range results {
		segs := strings.Split(r.name, "/")
		gkey := r.pkg + " " + segs[0]
		g := byName[gkey]
		if g == nil {
			g = &group{pkg: r.pkg, name: strings.TrimPrefix(segs[0], "Benchmark")}
			byName[gkey] = g
			out = append(out, g)
		}
		if len(segs) < 3 || segs[len(segs)-1] != pairedLeaf {
			g.singles = append(g.singles, r)
			continue
		}
		g.pairs = append(g.pairs, split(strings.Join(segs[1:len(segs)-1], "/"), r))
	}
	return out
}

// verdict is the outcome of one pair against its target.
type verdict struct {
	pkg, group, key string
	limit, got, cpu float64
	rounds          string
	met             bool
	noisy           bool // some rounds above the target, some not
}

func judge(g *group, p pair, t target) verdict {
	rs := p.rounds("ns/op")
	v := verdict{pkg: g.pkg, group: g.name, key: p.key, limit: t.max, got: p.overhead(), cpu: median(p.rounds(cpuUnit)), rounds: span(rs)}
	v.met = v.got <= t.max
	v.noisy = len(rs) > 0 && slices.Min(rs) <= t.max && slices.Max(rs) > t.max
	return v
}

func (v verdict) String() string {
	s := "not met"
	if v.met {
		s = "met"
	}
	if v.noisy {
		s += " (noisy)"
	}
	return s
}

// render writes the report in Markdown.
func render(w *strings.Builder, m machine, cmds []string, runner string, out *output, suites []suite) {
	gs := groups(out.results)
	targets := map[string][]target{}
	for _, s := range suites {
		targets[s.importPath()] = s.targets
	}
	var verdicts []verdict
	for _, g := range gs {
		for _, p := range g.pairs {
			if t, ok := targetFor(targets[g.pkg], p.key); ok {
				verdicts = append(verdicts, judge(g, p, t))
			}
		}
	}

	mverdicts := metricVerdicts(out.results, suites)

	fmt.Fprintf(w, "# Benchmarks\n\n")
	fmt.Fprintf(w, "Written by `%s` on %s. Do not edit by hand: run it again.\n\n", runner, m.date)
	fmt.Fprintf(w, "## Summary\n\n")
	met := 0
	for _, v := range verdicts {
		if v.met {
			met++
		}
	}
	for _, v := range mverdicts {
		if v.met {
			met++
		}
	}
	for _, s := range suites {
		for _, t := range s.targets {
			fmt.Fprintf(w, "- %s, %s cases: at most %.0f%% overhead (%s).\n", short(s.importPath()), t.match, t.max, t.why)
		}
		for _, t := range s.metrics {
			fmt.Fprintf(w, "- %s, %s: %s %s (%s).\n", short(s.importPath()), t.what, t.unit, t.bound(), t.why)
		}
	}
	fmt.Fprintf(w, "\n%d of %d cases with a target meet it. A verdict marked *noisy* is one the rounds disagree on: "+
		"some rounds were above the target and some below.\n", met, len(verdicts)+len(mverdicts))
	for _, v := range verdicts {
		if !v.met {
			fmt.Fprintf(w, "\n- **Not met**: %s %s/%s: %+.1f%% overhead (rounds %s; CPU %s), target at most %.0f%%%s.",
				short(v.pkg), v.group, v.key, v.got, v.rounds, pct(v.cpu), v.limit, map[bool]string{true: ", noisy"}[v.noisy])
		}
	}
	for _, v := range mverdicts {
		if !v.met {
			rs := v.rounds()
			if rs != "" {
				rs = " (" + rs + ")"
			}
			fmt.Fprintf(w, "\n- **Not met**: %s %s: %s %s%s, target %s%s.",
				short(v.r.pkg), strings.TrimPrefix(v.r.name, "Benchmark"), v.t.unit, metricNum(v.got), rs, v.t.bound(), map[bool]string{true: ", noisy"}[v.noisy])
		}
	}
	fmt.Fprintf(w, "\n\n")
	for _, s := range out.skips {
		fmt.Fprintf(w, "- Skipped: %s %s: %s\n", short(s.pkg), s.name, s.why)
	}
	if len(out.skips) > 0 {
		fmt.Fprintln(w)
	}

	fmt.Fprintf(w, "## Machine\n\n| | |\n|---|---|\n")
	fmt.Fprintf(w, "| CPU | %s |\n| cores | %d |\n| memory | %s |\n| Go | %s |\n| OS | %s |\n| tandem | %s |\n", m.cpu, m.cores, m.memory, m.goVersion, m.os, m.revision)
	for _, s := range m.servers {
		fmt.Fprintf(w, "| %s | %s |\n", s[0], s[1])
	}
	fmt.Fprintf(w, "| load average (1, 5, 15 min) before | %s |\n| load average after | %s |\n\n", m.loadBefore, m.loadAfter)
	for _, l := range m.loads {
		fmt.Fprintf(w, "- %s\n", l)
	}
	if len(m.loads) > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "The load averages show how much other work shared the %d cores while the benchmarks ran. "+
		"Read an overhead smaller than the spread of its rounds column as noise.\n\n", m.cores)

	fmt.Fprintf(w, "## Command\n\n```\n%s\n```\n\nwhich ran, once per round unless it says otherwise:\n\n```\n%s\n```\n\n", runner, strings.Join(cmds, "\n"))
	for _, n := range m.notes {
		fmt.Fprintf(w, "%s\n\n", n)
	}
	fmt.Fprintf(w, "Each benchmark ran once per round, and the rounds one after another. A benchmark of the plugin against plain GORM "+
		"measures both sides at once: two databases seeded alike, one without the plugin and one with it, and each iteration runs "+
		"the operation once on each (on SQLite ten times in a row, as one of its operations takes microseconds), the side that goes first alternating, each side's operations timed on their own; "+
		"a side's ns/op and %s are the median of the means of blocks of 50 iterations (10 against a server, each block on new connections, the side that opens first alternating), so that one stall of the machine does not set them. "+
		"The two sides thus share every moment of the machine's load. The garbage collector's work is shared too: "+
		"a side that allocates more makes both sides pay for part of its collections, so compare the allocs/op columns as well. "+
		"How to read the tables:\n\n"+
		"- **plain ns/op, plugin ns/op, allocs/op**: medians over the rounds. The allocations are counted after the timed loop, one side at a time.\n"+
		"- **overhead**: in each round, plugin ns/op / plain ns/op - 1; the median over the rounds. "+
		"The targets are checked against this figure.\n"+
		"- **rounds**: the lowest and highest of those per-round overheads: how much single rounds disagree.\n"+
		"- **CPU overhead**: the same for %s, the CPU time the test process used during each side's operations "+
		"(all threads, so garbage collection and background work count, whichever side caused them; the database server's time does not). "+
		"It leaves out time spent waiting for a core, which helps on a loaded machine, but cache and frequency effects of other work remain, "+
		"and while a query waits for a database server the Go runtime's idle spinning counts too, so against a server it follows latency in part.\n\n", cpuUnit, cpuUnit)

	for _, g := range gs {
		fmt.Fprintf(w, "## %s: %s\n\n", short(g.pkg), g.name)
		if cols := columnsFor(suites, g); len(cols) > 0 && len(g.singles) > 0 {
			renderColumns(w, g, cols, mverdicts)
			continue
		}
		if len(g.pairs) > 0 {
			fmt.Fprintf(w, "| case | plain ns/op | plugin ns/op | overhead | rounds | CPU overhead | plain allocs/op | plugin allocs/op | target | |\n")
			fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
			for _, p := range g.pairs {
				limit, result := "-", "-"
				if t, ok := targetFor(targets[g.pkg], p.key); ok {
					limit, result = fmt.Sprintf("at most %.0f%%", t.max), judge(g, p, t).String()
				}
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p.key,
					num(p.plain, "ns/op"), num(p.plugin, "ns/op"), pct(p.overhead()), span(p.rounds("ns/op")),
					pct(median(p.rounds(cpuUnit))), num(p.plain, "allocs/op"), num(p.plugin, "allocs/op"), limit, result)
			}
			fmt.Fprintln(w)
		}
		if len(g.singles) > 0 {
			fmt.Fprintf(w, "| benchmark | ns/op | spread | B/op | allocs/op | other |\n|---|---:|---:|---:|---:|---|\n")
			for _, r := range g.singles {
				fmt.Fprintf(w, "| %s | %s | %.0f%% | %s | %s | %s |\n", r.name, num(r, "ns/op"), r.spread("ns/op"), num(r, "B/op"), num(r, "allocs/op"), others(r))
			}
			fmt.Fprintln(w)
		}
	}

	for _, s := range suites {
		if s.about != "" && hasPkg(gs, s.importPath()) {
			fmt.Fprintf(w, "## About the %s benchmarks\n\n%s\n\n", short(s.importPath()), strings.TrimSpace(s.about))
		}
	}
}

// cpuUnit is the metric the compat benchmarks add: the process's CPU time
// per operation.
const cpuUnit = "cpu-ns/op"

// pct formats a percentage with its sign, or "-" for NaN.
func pct(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%+.1f%%", v)
}

// median returns the median of vs, NaN when it is empty.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	vs = slices.Clone(vs)
	slices.Sort(vs)
	m := len(vs) / 2
	if len(vs)%2 == 0 {
		return (vs[m-1] + vs[m]) / 2
	}
	return vs[m]
}

// span formats the lowest and highest of vs.
func span(vs []float64) string {
	if len(vs) == 0 {
		return "-"
	}
	return fmt.Sprintf("%s to %s", pct(slices.Min(vs)), pct(slices.Max(vs)))
}

func targetFor(ts []target, key string) (target, bool) {
	for _, t := range ts {
		if t.applies(key) {
			return t, true
		}
	}
	return target{}, false
}

func hasPkg(gs []*group, pkg string) bool {
	for _, g := range gs {
		if g.pkg == pkg {
			return true
		}
	}
	return false
}

// short drops the module path from a package path.
func short(pkg string) string {
	return strings.TrimPrefix(pkg, modulePath+"/")
}

// num formats the median of unit with thousands separators.
func num(r *result, unit string) string {
	v, ok := r.median(unit)
	if !ok {
		return "-"
	}
	s := fmt.Sprintf("%.0f", v)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// others lists the medians of the units other than the standard three.
func others(r *result) string {
	var units []string
	for u := range r.samples[0] {
		if u != "ns/op" && u != "B/op" && u != "allocs/op" && u != cpuUnit {
			units = append(units, u)
		}
	}
	if len(units) == 0 {
		return ""
	}
	var parts []string
	slices.Sort(units)
	for _, u := range units {
		v, _ := r.median(u)
		parts = append(parts, fmt.Sprintf("%.4g %s", v, u))
	}
	return strings.Join(parts, ", ")
}
