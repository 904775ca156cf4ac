package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandemdb/tandem/internal/dblock"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
)

// config is what a crash-injection run does.
type config struct {
	bin         string        // the shop-tandem binary
	trials      int           // trials per dialect, spread over phases
	phases      []phase       // phases the trials crash, in turn
	seed        int64         // seed of the first trial; trial i has seed+i
	rows        int           // rows seeded per table
	batchSize   int           // migrate's --batch-size
	batchTime   time.Duration // migrate's --batch-time
	maxKills    int           // kills per trial at most; the run after the last is left alone
	restartKill float64       // probability that a restart is killed too
}

// shopPackage is the sample shop's tandem binary, which the harness kills.
const shopPackage = "github.com/tandemdb/tandem/examples/shop/shop-tandem"

// buildShop builds shop-tandem into dir and returns its path.
func buildShop(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "shop-tandem")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, shopPackage)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", shopPackage, err, out)
	}
	return bin, nil
}

// trialResult is the outcome of one trial.
type trialResult struct {
	dialect  dialect.Name
	phase    phase
	seed     int64
	start    start
	runs     []runResult // the runs until the first that exited by itself
	kills    int
	problems problems
	dur      time.Duration
}

func (r trialResult) failed() bool { return len(r.problems) > 0 }

// restarts is the number of runs after the first.
func (r trialResult) restarts() int { return max(0, len(r.runs)-1) }

// resumed counts the statements the runs found had taken effect before
// the run that sent them was killed (MySQL; see migrations/resume.go).
func (r trialResult) resumed() int {
	n := 0
	for _, x := range r.runs {
		n += strings.Count(x.stderr, "had taken effect before the previous runner stopped")
	}
	return n
}

// line is the one-line account of a trial.
func (r trialResult) line() string {
	steps := make([]string, len(r.runs))
	for i, x := range r.runs {
		switch {
		case x.killed:
			steps[i] = fmt.Sprintf("killed (%s, %d lines)", x.plan, x.lines)
		case x.err != nil:
			steps[i] = "not started"
		default:
			steps[i] = fmt.Sprintf("exit %d in %s", x.code, x.dur.Round(time.Millisecond))
		}
	}
	verdict := "ok"
	if r.failed() {
		verdict = "FAIL"
	}
	return fmt.Sprintf("%-8s %-8s seed=%d  %s: %s  %s (%s)", r.dialect, r.phase, r.seed, r.start, strings.Join(steps, " -> "), verdict, r.dur.Round(time.Millisecond))
}

// report is the whole account of a failed trial, with how to replay it.
func (r trialResult) report() string {
	var b strings.Builder
	b.WriteString(r.line() + "\n")
	for _, p := range r.problems {
		b.WriteString("  - " + p + "\n")
	}
	for i, x := range r.runs {
		fmt.Fprintf(&b, "  run %d (%s): stderr ends with:\n", i+1, x.plan)
		b.WriteString(indent(tail(x.stderr, 12), "    | "))
	}
	fmt.Fprintf(&b, "  replay: go run ./internal/crashtest -dialect %s -phase %s -seed %d -trials 1 -rows %d -v\n", r.dialect, r.phase, r.seed, r.start.rows)
	return b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indent(s, prefix string) string {
	if s == "" {
		return ""
	}
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix) + "\n"
}

// calibration is an uninterrupted run from one kind of start point: how
// long it takes and how many lines it prints set the range of the kill
// points, and the schema it leaves is the one every trial must reach.
type calibration struct {
	dur    time.Duration
	lines  int
	schema []string
}

// dialectRun runs the trials of one dialect on its one database.
type dialectRun struct {
	cfg  config
	d    dialect.Name
	db   *trialDB
	cal  map[string]*calibration
	kept map[string]string // SQLite: start point -> file to copy
}

// runDialect runs cfg.trials trials on dialect d, calling done after each.
func runDialect(ctx context.Context, cfg config, d dialect.Name, done func(trialResult)) error {
	db, err := newTrialDB(ctx, d)
	if err != nil {
		return err
	}
	defer db.close()
	h := &dialectRun{cfg: cfg, d: d, db: db, cal: map[string]*calibration{}, kept: map[string]string{}}
	for i := 0; i < cfg.trials; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := h.trial(ctx, cfg.phases[i%len(cfg.phases)], cfg.seed+int64(i))
		if err != nil {
			return err
		}
		done(res)
	}
	return nil
}

func calKey(s start) string { return fmt.Sprintf("%s/%v", s.phase, s.fresh) }

// trial runs one trial: it draws the start point and the kills from seed.
func (h *dialectRun) trial(ctx context.Context, ph phase, seed int64) (trialResult, error) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	s := start{phase: ph, rows: h.cfg.rows, fresh: ph == phaseExpand && rng.IntN(2) == 0}
	cal := h.cal[calKey(s)]
	if cal == nil {
		res, c, err := h.calibrate(ctx, s)
		if err != nil {
			return res, err
		}
		if res.failed() {
			// An uninterrupted run that does not converge is a bug
			// of its own; it would make every trial fail.
			res.problems = append(problems{"uninterrupted run (calibration): the binary or tandem is broken; no kill involved"}, res.problems...)
			return res, fmt.Errorf("%s", res.report())
		}
		cal = c
		h.cal[calKey(s)] = cal
	}
	res := h.play(ctx, s, seed, rng, cal)
	return res, nil
}

// calibrate runs an uninterrupted trial from s.
func (h *dialectRun) calibrate(ctx context.Context, s start) (trialResult, *calibration, error) {
	res := h.play(ctx, s, 0, nil, nil)
	if res.failed() || len(res.runs) == 0 {
		return res, nil, nil
	}
	last := res.runs[len(res.runs)-1]
	c := &calibration{dur: last.dur, lines: last.lines}
	var err error
	c.schema, err = schemaOf(ctx, h.db.pool, h.d)
	return res, c, err
}

// args are the binary's arguments for a phase.
func (h *dialectRun) args(ph phase) []string {
	a := []string{string(ph), "--release", "2.0", "--dsn", h.db.dsn, "--yes", "-v", "--lock-timeout", "2m"}
	if ph == phaseMigrate {
		// --json prints a progress line per batch: kill points.
		a = append(a, "--json", "--batch-size", strconv.Itoa(h.cfg.batchSize), "--batch-time", h.cfg.batchTime.String())
	}
	return a
}

// play prepares the start point, runs and kills the binary until a run
// exits by itself, and checks where the database ended. rng nil: no kill.
func (h *dialectRun) play(ctx context.Context, s start, seed int64, rng *rand.Rand, cal *calibration) (res trialResult) {
	t0 := time.Now()
	res = trialResult{dialect: h.d, phase: s.phase, seed: seed, start: s}
	defer func() { res.dur = time.Since(t0) }()
	if err := h.startAt(ctx, s); err != nil {
		res.problems.addf("%v", err)
		return res
	}
	db := h.db.pool
	args := h.args(s.phase)
	for {
		plan := killPlan{}
		if rng != nil && (len(res.runs) == 0 || res.kills < h.cfg.maxKills && rng.Float64() < h.cfg.restartKill) {
			plan = drawKill(rng, cal.dur, cal.lines)
		}
		r := run(ctx, h.cfg.bin, args, plan)
		res.runs = append(res.runs, r)
		if r.err != nil {
			res.problems.addf("run %d: %v", len(res.runs), r.err)
			return res
		}
		if !r.killed {
			if r.code != 0 {
				res.problems.addf("run %d exited %d without being killed: %s", len(res.runs), r.code, lastError(r.stderr))
				return res
			}
			if cal != nil && len(res.runs) == 1 {
				// A whole run outran its kill: the machine is faster
				// now than when calibrated; follow it.
				cal.dur = (cal.dur + r.dur) / 2
			}
			break
		}
		res.kills++
		if h.d == dialect.SQLite {
			// The lock is the killed process's exclusive transaction:
			// it must have died with it.
			if held, err := dblock.Held(ctx, db, ""); err != nil || held {
				res.problems.addf("right after kill %d the SQLite lock is held=%v (%v)", res.kills, held, err)
			}
		}
	}
	h.check(ctx, s, cal, &res)
	return res
}

// startAt gives the trial's database the start point s. On SQLite each
// kind of start point is prepared once and copied for the next trials.
func (h *dialectRun) startAt(ctx context.Context, s start) error {
	key := strings.ReplaceAll(calKey(s), "/", "-")
	if from := h.kept[key]; from != "" {
		return h.db.reset(ctx, from)
	}
	if err := h.db.reset(ctx, ""); err != nil {
		return fmt.Errorf("reset the database: %w", err)
	}
	if err := prepare(ctx, h.db.pool, s); err != nil {
		return fmt.Errorf("prepare %s: %w", s, err)
	}
	if h.d == dialect.SQLite {
		kept, err := h.db.keep(ctx, key)
		if err != nil {
			return err
		}
		h.kept[key] = kept
	}
	return nil
}

// lastError picks the error a failed run printed.
func lastError(stderr string) string {
	for _, l := range slices.Backward(strings.Split(strings.TrimRight(stderr, "\n"), "\n")) {
		if strings.HasPrefix(l, "tandem ") || strings.Contains(l, "error") {
			return l
		}
	}
	return tail(stderr, 1)
}

// check runs every convergence check, then runs the binary once more: a
// converged database gives it nothing to do.
func (h *dialectRun) check(ctx context.Context, s start, cal *calibration, res *trialResult) {
	db, p := h.db.pool, &res.problems
	checkLocks(ctx, db, p)
	hist := checkHistory(ctx, db, s.phase, p)
	checkStates(ctx, db, s.phase, p)
	checkJournal(ctx, db, p)
	checkAppliedOnce(h.d, res.runs, p)
	var ref []string
	if cal != nil {
		ref = cal.schema
	}
	schema := checkSchema(ctx, db, h.d, ref, p)
	checkRows(ctx, db, h.d, s, p)
	checkCoverage(ctx, db, s, p)
	if len(*p) > 0 {
		return
	}
	again := run(ctx, h.cfg.bin, h.args(s.phase), killPlan{})
	if again.err != nil || again.code != 0 {
		p.addf("a run after convergence exited %d (%v): %s", again.code, again.err, lastError(again.stderr))
		return
	}
	after, err := store.History(ctx, db)
	if err != nil {
		p.addf("history: %v", err)
		return
	}
	if fmt.Sprint(hist) != fmt.Sprint(after) {
		p.addf("a run after convergence changed the history")
	}
	checkSchema(ctx, db, h.d, schema, p)
	checkLocks(ctx, db, p)
}

// defaultSeed is a seed from the clock, for runs not told one.
func defaultSeed() int64 { return time.Now().UnixNano() % 1_000_000_000 }

// envInt reads a positive integer from the environment.
func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive integer", name, v)
	}
	return n, nil
}
