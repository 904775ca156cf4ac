// Command bench runs tandem's benchmark suites and rewrites
// docs/BENCHMARKS.md with the machine, the date and the figures.
//
//	go run ./internal/bench                      # every suite, 5 rounds
//	go run ./internal/bench -count 5 -benchtime 1s -pkg ./compat
//	go run ./internal/bench -pkg ./migrations -rows-max 1000000  # skip the 10M-row tables
//
// A benchmark named Benchmark<Group>/<case>/paired measures plain GORM and
// the plugin together and reports each side's figures (plain-ns/op,
// plugin-ns/op, ...): the report gives the plugin's overhead over plain GORM
// for each case, from the medians of the rounds, and checks it against the suite's targets. Other
// benchmarks are listed as they are, or, for a suite that declares columns,
// as a table of the metrics they report, checked against the suite's metric
// targets. A suite whose setup is too slow to repeat (the 1M- and 10M-row
// tables of ./migrations) runs its rounds in one process (go test -count).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
)

const modulePath = "github.com/tandemdb/tandem"

// suite is one package of benchmarks, with its overhead targets and a note
// on what it measures. Add a package here to add it to the report.
type suite struct {
	pkg     string // relative to the module root: ./compat
	targets []target
	about   string

	// Suites that report their own metrics (b.ReportMetric).
	metrics []metricTarget      // bounds on those metrics
	columns map[string][]column // per group (Backfill): the metrics its table shows
	// inProcess runs the suite once, its rounds in one go test process
	// (-count), so that what a parent benchmark builds serves every round.
	inProcess bool
	rounds    int    // default rounds of the suite (0: the -count default)
	benchtime string // default -benchtime of the suite ("": the flag's default)
}

func (s suite) importPath() string {
	return modulePath + "/" + strings.TrimPrefix(strings.TrimPrefix(s.pkg, "./"), "/")
}

var suites = []suite{
	{
		pkg: "./compat",
		targets: []target{
			{match: "unversioned", max: 5, why: "issue 4"},
			{match: "converters", max: 15, why: "issue 4"},
		},
		about: `
Each case runs GORM without the plugin (plain) and the same code with the plugin of
release 2.0 installed, in 2.0(m) (plugin), each on a fresh database seeded with the same
100 rows. SQLite runs in memory on one connection, to isolate the CPU cost, opened by
dialect.Open, which warms the pure-Go driver's C allocator for both sides (see below);
PostgreSQL is the local server of internal/dbtest (a new database per side of each case, pool of
internal/dbtest, server defaults such as fsync). On PostgreSQL each side starts a new
connection after every block of 10 iterations and warms it up untimed: on a machine of two
cores a connection's round trips were seen to stay about 50% faster or slower than
another's for as long as it lived, which made whole rounds of First lopsided. Which side
opens its new connections first, and which runs first in a block, alternates from block to
block: until 2026-12-07 the plain side always opened first, and the control case (below)
then came out 3% to 9% faster on the plugin's side on PostgreSQL (Create -8.5%, Updates
-4.9%, First and Find100 -3.1%, medians of 5 rounds), so the PostgreSQL overheads reported
before that date are low by about as much.

- **control**: the unversioned model with the plugin on neither side, so its overhead
  would be zero if the method had no error. No target; its overhead and rounds show how
  far a pair of identical sides lands from zero on this machine, which is the least
  overhead the other cases can tell apart from noise.
- **unversioned**: a model without model.Stamp. Target (issue 4): at most 5% overhead.
- **stamped**: a model with model.Stamp and no transitional field in 2.0; the plugin
  only stamps its writes. No target of its own; shown for information.
- **converters**: a model like CustomerV2 (Name deprecated in 2.0, GivenName and
  FamilyName added), over rows written and stamped by 1.0, so every read runs the
  upgrade converter and every Create the downgrade converter. Updates set GivenName and
  FamilyName, which in 2.0(m) the plugin turns into a read of the row, the converters,
  and an UPDATE of every transitional column: one extra SELECT per update, which the
  plugin builds once per model and sends on the update's connection, past GORM's query
  callbacks. Target (issue 4): at most 15% overhead.
- **converters-email** (Updates only): the same model, updating Email, which is not
  transitional; the plugin leaves such an update and its stamp alone.
- **converters-loaded** (Updates only): the same update on a model the service loaded
  first (the usual GORM pattern); the plugin then compares and sets in one UPDATE
  instead of reading the row again (it compares the stamp and Name, the one
  transitional value the update does not set).
- **converters-direct** (Updates only): the same update of a model that implements
  model.DowngradeFromAdded; the update sets both added fields, so the plugin computes
  Name from it and writes in one UPDATE, without reading the row. Target (issue 4): at
  most 15% overhead.
- **stamped-explicit** (Updates only): a reference, with no target. The plain side writes
  obj_version itself, with the value the plugin writes, so both sides pay for its index;
  what is left is the plugin's own cost.
- **dualwrite-explicit** (Updates only): a reference, with no target. The plugin side is
  converters-direct's update; the plain side writes the same four columns by hand in one
  UPDATE (the added fields, Name as the converter derives it, obj_version), as a service
  without tandem would have to while its previous release runs. What is left is the
  plugin's own cost; the rest of converters-direct's overhead is the dual write itself.
- **rmw-explicit** (Updates only): a reference, with no target. The plugin side is
  converters' update; the plain side does by hand what the plugin does, in one
  transaction: it reads the row (FOR UPDATE on PostgreSQL), derives Name with the
  downgrade converter, and writes the three columns, as a service without tandem would
  have to for a converter that needs the whole row. What is left is the plugin's own
  cost; the rest of converters' overhead is the second statement.

Find100 loads all 100 rows; First loads one by primary key; Updates updates one row by
primary key with a struct; Create inserts one row.

Costs that are not the plugin's CPU:

- Stamping writes obj_version, which model.Stamp indexes: on SQLite an UPDATE that sets
  it also rewrites an index entry, even when the value does not change (compare
  converters-email, which writes no stamp, and stamped-explicit, whose plain side writes
  the stamp too); the PostgreSQL stamped cases show no such cost.
- The pure-Go SQLite driver parses every statement again each time it runs, prepared or
  not, so on SQLite each statement, and each term of one, costs CPU: a second statement
  (converters) costs about as much as the update itself. Measured on 2026-12-07 with raw
  statements on an in-memory table (about 4.8 µs for an UPDATE of two columns by primary
  key, outside a transaction): one more column set, about 0.3 µs; obj_version set, about
  2.2 µs; a condition such as obj_version = ? or name IS ?, about 1 µs each, which is what
  the compare-and-set of converters-loaded adds.
- The pure-Go SQLite's C allocator unmaps a 1 MiB size class as soon as its last block
  is freed, so a statement that needs a class nothing else holds (a longer statement, one
  more page written) maps, faults and unmaps it every time it runs. Before tandem held
  one block of each class (dialect.WarmSQLiteAllocator, called by dialect.Open and by
  the plugin), that cost 15 to 20 µs per UPDATE that wrote the stamp or compared three
  columns, and was most of the SQLite Updates overhead: on 2026-11-21, converters
  +295%, converters-loaded +214%, converters-direct +152%, stamped +135%.
- On PostgreSQL every Create and Updates waits for its commit to reach the disk, which
  dominates their time and the noise; the rounds column shows how far apart single rounds
  were.`,
	},
	migrationsSuite,
}

func main() {
	log := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...) }
	var pkgs multiFlag
	count := flag.Int("count", 5, "rounds: how many times each benchmark runs (`go test -count 1` per round; default 5, or the suite's own)")
	benchtime := flag.String("benchtime", "1000x", "go test -benchtime: iterations (1000x) or time (1s) per benchmark and round (default 1000x, or the suite's own)")
	rowsMax := flag.String("rows-max", os.Getenv(envRowsMax), "skip benchmark tables of more rows than this (sets "+envRowsMax+"; 0 or empty: no cap), e.g. 1000000 to skip the 10M-row tables")
	bench := flag.String("bench", ".", "go test -bench: which benchmarks to run")
	out := flag.String("out", "docs/BENCHMARKS.md", "the report to rewrite, relative to the module root")
	flag.Var(&pkgs, "pkg", "a benchmark package to run, e.g. ./compat (repeatable; default: every suite)")
	flag.Parse()
	if *count < 1 {
		log("-count must be at least 1")
		os.Exit(2)
	}

	root, err := moduleRoot()
	if err != nil {
		log("%v", err)
		os.Exit(1)
	}
	run := suites
	if len(pkgs) > 0 {
		run = nil
		for _, p := range pkgs {
			run = append(run, suiteFor(p))
		}
	}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	goTest := func(count int, benchtime string, pkgs ...string) []string {
		args := []string{"test", "-v", "-p", "1", "-run", "^$", "-bench", *bench, "-benchmem", "-count", strconv.Itoa(count), "-benchtime", benchtime, "-timeout", "60m"}
		return append(args, pkgs...)
	}
	// The suites that repeat in a process of their own run once each;
	// the others run together, once per round.
	type command struct {
		args   []string
		rounds int // processes to run
		note   string
	}
	var cmds []command
	var shared []string
	for _, s := range run {
		if !s.inProcess {
			shared = append(shared, s.pkg)
		}
	}
	if len(shared) > 0 {
		cmds = append(cmds, command{args: goTest(1, *benchtime, shared...), rounds: *count, note: fmt.Sprintf("%d rounds", *count)})
	}
	for _, s := range run {
		if s.inProcess {
			n, bt := *count, *benchtime
			if !set["count"] && s.rounds > 0 {
				n = s.rounds
			}
			if !set["benchtime"] && s.benchtime != "" {
				bt = s.benchtime
			}
			cmds = append(cmds, command{args: goTest(n, bt, s.pkg), rounds: 1, note: fmt.Sprintf("once: %d round(s) in one process", n)})
		}
	}
	env := os.Environ()
	m := machine{loadBefore: loadAvg()}
	if *rowsMax != "" && *rowsMax != "0" {
		env = append(env, envRowsMax+"="+*rowsMax)
		m.notes = append(m.notes, fmt.Sprintf("%s=%s: benchmark tables of more rows were skipped.", envRowsMax, *rowsMax))
	} else {
		env = append(env, envRowsMax+"=")
		m.notes = append(m.notes, envRowsMax+" was not set: no cap on the size of the benchmark tables.")
	}
	var o output
	var raw bytes.Buffer
	var ran []string
	for _, c := range cmds {
		ran = append(ran, "go "+shellJoin(c.args)+"    # "+c.note)
		for i := 1; i <= c.rounds; i++ {
			log("round %d of %d: go %s", i, c.rounds, shellJoin(c.args))
			before := loadAvg()
			var buf bytes.Buffer
			cmd := exec.Command("go", c.args...)
			cmd.Dir = root
			cmd.Env = env
			cmd.Stdout = io.MultiWriter(&buf, os.Stderr)
			cmd.Stderr = os.Stderr
			if err := cmd.Run(); err != nil {
				log("round %d failed (%v); %s is left as it was", i, err, *out)
				os.Exit(1)
			}
			if err := o.parse(bytes.NewReader(buf.Bytes())); err != nil {
				log("read the output of round %d: %v", i, err)
				os.Exit(1)
			}
			if c.rounds == 1 {
				m.loads = append(m.loads, fmt.Sprintf("load average before and after the run of %s: %s; %s", strings.Join(c.args[len(c.args)-1:], " "), before, loadAvg()))
			}
			fmt.Fprintf(&raw, "# round %d of go %s\n", i, shellJoin(c.args))
			writeRaw(&raw, buf.String())
		}
	}
	if len(o.results) == 0 {
		log("no benchmark results; %s is left as it was", *out)
		os.Exit(1)
	}
	m.loadAfter = loadAvg()
	m.describe(o.cpu)

	runner := "go run ./internal/bench"
	if len(os.Args) > 1 {
		runner += " " + shellJoin(os.Args[1:])
	}
	var w strings.Builder
	render(&w, m, ran, runner, &o, run)
	fmt.Fprintf(&w, "## Raw output\n\n<details><summary>go test output of every round</summary>\n\n```\n%s```\n\n</details>\n", raw.String())

	path := *out
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	if err := os.WriteFile(path, []byte(w.String()), 0o644); err != nil {
		log("%v", err)
		os.Exit(1)
	}
	log("wrote %s", path)
}

// writeRaw copies go test output to raw, less the lines of go test -v that
// name each benchmark before its result (the result lines say it again).
func writeRaw(raw *bytes.Buffer, out string) {
	for _, line := range strings.SplitAfter(out, "\n") {
		if f := strings.Fields(line); len(f) == 1 && strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		raw.WriteString(line)
	}
}

// suiteFor returns the suite of package p, or a suite without targets.
func suiteFor(p string) suite {
	want := suite{pkg: p}
	for _, s := range suites {
		if s.importPath() == want.importPath() {
			return s
		}
	}
	return want
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (f *multiFlag) String() string     { return strings.Join(*f, ",") }
func (f *multiFlag) Set(v string) error { *f = append(*f, v); return nil }

func moduleRoot() (string, error) {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module root: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(b))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("run bench inside the %s module", modulePath)
	}
	return filepath.Dir(gomod), nil
}

// shellJoin quotes the arguments that a shell would otherwise change.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'$^*?[]{}()<>|&;\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// machine describes where the benchmarks ran.
type machine struct {
	date, cpu, memory, goVersion, os string
	cores                            int
	servers                          [][2]string
	loadBefore, loadAfter            string
	revision                         string
	loads                            []string // per command run once
	notes                            []string // on how the commands ran
}

// revision names the commit the benchmarks ran on, and whether the tree had
// changes on top of it. It only reads the repository.
func revision() string {
	git := func(args ...string) *exec.Cmd {
		c := exec.Command("git", args...)
		c.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
		return c
	}
	head, err := git("rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown (not a git checkout)"
	}
	rev := strings.TrimSpace(string(head))
	if err := git("diff", "--quiet", "HEAD", "--").Run(); err != nil {
		rev += " with uncommitted changes"
	}
	return rev
}

func (m *machine) describe(goTestCPU string) {
	m.date = time.Now().UTC().Format("2006-01-02 15:04 MST")
	m.cpu = procField("/proc/cpuinfo", "model name", ":")
	if m.cpu == "" {
		m.cpu = goTestCPU
	}
	m.cores = runtime.NumCPU()
	m.memory = "unknown"
	if kb, err := strconv.ParseFloat(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal", ":"), " kB"), 64); err == nil {
		m.memory = fmt.Sprintf("%.1f GiB", kb/(1<<20))
	}
	m.goVersion = runtime.Version()
	m.os = strings.Trim(procField("/etc/os-release", "PRETTY_NAME", "="), `"`)
	if k, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.os += ", Linux " + strings.TrimSpace(string(k))
	}
	m.os = strings.TrimPrefix(m.os+" ("+runtime.GOOS+"/"+runtime.GOARCH+")", ", ")
	m.revision = revision()
	m.servers = append(m.servers,
		[2]string{"SQLite", serverVersion("sqlite::memory:", "SELECT 'SQLite ' || sqlite_version() || ', modernc.org/sqlite via github.com/glebarez/sqlite, in memory'")},
		[2]string{"PostgreSQL", serverVersion(dbtest.ServerDSN(dialect.Postgres), "SELECT version() || '; shared_buffers ' || current_setting('shared_buffers') || "+
			"', fsync ' || current_setting('fsync') || ', synchronous_commit ' || current_setting('synchronous_commit') || ', max_wal_size ' || current_setting('max_wal_size')")},
		[2]string{"MySQL/MariaDB", serverVersion(dbtest.ServerDSN(dialect.MySQL), "SELECT CONCAT(VERSION(), '; innodb_buffer_pool_size ', @@innodb_buffer_pool_size DIV 1048576, "+
			"'M, innodb_flush_log_at_trx_commit ', @@innodb_flush_log_at_trx_commit, ', innodb_log_file_size ', @@innodb_log_file_size DIV 1048576, 'M')")})
}

// serverVersion asks a database for its version, or says why it cannot.
func serverVersion(dsn, query string) string {
	t, err := dialect.ParseDSN(dsn)
	if err != nil {
		return "unknown: " + err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	db, err := dialect.Open(ctx, t, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return "not reachable at " + dialect.Redact(dsn)
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}
	var v string
	if err := db.WithContext(ctx).Raw(query).Scan(&v).Error; err != nil {
		return "unknown: " + err.Error()
	}
	if t.Dialect != dialect.SQLite {
		v += ", at " + dialect.Redact(dsn)
	}
	return v
}

// procField returns the value of the first line of file that starts with
// key, after sep.
func procField(file, key, sep string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, sep); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}
