// Command crashtest kills the sample shop's tandem binary (shop-tandem)
// with SIGKILL at random points of expand, migrate and contract of release
// 2.0, restarts it until a run exits by itself, and checks that the
// database converged: every migration applied exactly once, the release
// states right for the phase, no row lost and every value right (after
// migrate each row converted by the shop's converters, after contract the
// deprecated columns gone and their values in the archive tables), 100%
// coverage, the schema of an uninterrupted run, and both locks free.
//
//	go run ./internal/crashtest -trials 300 -dialect all
//	go run ./internal/crashtest -dialect mysql -phase contract -seed 1234 -trials 1 -v
//
// Each trial draws its start point and kill points from its seed (printed
// with every failure, with the command that replays it); where a kill
// lands still depends on the machine's timing. The test TestCrash in this
// package runs a CI-sized run (TANDEM_CRASH_TRIALS trials per dialect,
// default 30). See docs/RELIABILITY.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("crashtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := config{}
	var dialects, phases string
	var verbose bool
	fs.IntVar(&cfg.trials, "trials", 30, "trials per dialect, spread over the phases")
	fs.StringVar(&dialects, "dialect", "all", "dialects: all, or a comma-separated list of sqlite, postgres, mysql")
	fs.StringVar(&phases, "phase", "all", "phases: all, or a comma-separated list of expand, migrate, contract")
	fs.Int64Var(&cfg.seed, "seed", 0, "seed of the first trial (trial i has seed+i); 0: from the clock")
	fs.IntVar(&cfg.rows, "rows", 2000, "rows seeded per table (customers, parcels)")
	fs.IntVar(&cfg.batchSize, "batch-size", 50, "migrate's --batch-size")
	fs.DurationVar(&cfg.batchTime, "batch-time", 20*time.Millisecond, "migrate's --batch-time (batches grow or shrink towards it)")
	fs.IntVar(&cfg.maxKills, "max-kills", 3, "kills per trial at most")
	fs.Float64Var(&cfg.restartKill, "restart-kill", 0.5, "probability that a restart is killed too")
	fs.StringVar(&cfg.bin, "bin", "", "shop-tandem binary to kill (default: built from "+shopPackage+")")
	fs.BoolVar(&verbose, "v", false, "print every trial, not only the failures")
	parallel := fs.Bool("parallel", true, "run the dialects at the same time")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := cfg.parse(dialects, phases); err != nil {
		fmt.Fprintln(stderr, "crashtest:", err)
		return 2
	}
	ds, _ := parseDialects(dialects)
	if cfg.bin == "" {
		dir, err := os.MkdirTemp("", "tandem-crashtest-bin-")
		if err != nil {
			fmt.Fprintln(stderr, "crashtest:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		if cfg.bin, err = buildShop(ctx, dir); err != nil {
			fmt.Fprintln(stderr, "crashtest:", err)
			return 1
		}
	}
	fmt.Fprintf(stdout, "crash injection: %d trial(s) per dialect on %v, phases %v, seed %d, %d rows per table, at most %d kills per trial\n",
		cfg.trials, ds, cfg.phases, cfg.seed, cfg.rows, cfg.maxKills)
	fmt.Fprintf(stdout, "machine: %s\n", machine(ctx, ds))
	started := time.Now()
	sum := newSummary()
	var mu sync.Mutex
	finished := map[dialect.Name]int{}
	done := func(r trialResult) {
		mu.Lock()
		defer mu.Unlock()
		sum.add(r)
		finished[r.dialect]++
		switch {
		case r.failed():
			fmt.Fprint(stdout, r.report())
		case verbose:
			fmt.Fprintln(stdout, r.line())
		}
		if n := finished[r.dialect]; !verbose && cfg.trials >= 50 && n%(cfg.trials/10) == 0 {
			fmt.Fprintf(stdout, "%s: %d/%d trials done, %s\n", r.dialect, n, cfg.trials, time.Since(started).Round(time.Second))
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ds))
	for i, d := range ds {
		work := func() { errs[i] = runDialect(ctx, cfg, d, done) }
		if !*parallel {
			work()
			continue
		}
		wg.Go(work)
	}
	wg.Wait()
	code := 0
	for i, err := range errs {
		if err != nil {
			fmt.Fprintf(stdout, "%s: stopped: %v\n", ds[i], err)
			code = 1
		}
	}
	fmt.Fprintf(stdout, "\n%s, seed %d, %s\n\n", time.Now().Format("2006-01-02"), cfg.seed, time.Since(started).Round(time.Second))
	sum.write(stdout)
	if sum.failures() > 0 {
		code = 1
	}
	return code
}

// parse completes cfg from the flags.
func (cfg *config) parse(dialects, phases string) error {
	if _, err := parseDialects(dialects); err != nil {
		return err
	}
	if phases == "all" {
		cfg.phases = allPhases
	} else {
		for _, s := range strings.Split(phases, ",") {
			p, err := parsePhase(strings.TrimSpace(s))
			if err != nil {
				return err
			}
			cfg.phases = append(cfg.phases, p)
		}
	}
	if cfg.seed == 0 {
		cfg.seed = defaultSeed()
	}
	switch {
	case cfg.trials <= 0:
		return fmt.Errorf("-trials must be positive")
	case cfg.rows <= 0 || cfg.batchSize <= 0 || cfg.batchTime <= 0:
		return fmt.Errorf("-rows, -batch-size and -batch-time must be positive")
	case cfg.maxKills < 1:
		return fmt.Errorf("-max-kills must be at least 1")
	case cfg.restartKill < 0 || cfg.restartKill > 1:
		return fmt.Errorf("-restart-kill is a probability, between 0 and 1")
	}
	return nil
}

func parseDialects(s string) ([]dialect.Name, error) {
	if s == "all" {
		return dbtest.Dialects(), nil
	}
	var out []dialect.Name
	for _, x := range strings.Split(s, ",") {
		d, err := dialect.ParseName(x)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
