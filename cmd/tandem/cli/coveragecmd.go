package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"strings"

	"github.com/tandemdb/tandem/migrations"
)

func coverageCommand() *command {
	cfg := &runConfig{}
	var o migrations.CoverageOptions
	var failUnder float64
	return &command{
		name:    "coverage",
		summary: "Show, per versioned table, the rows written by --release or later (rows, stale, percent, oldest version, stale keys); exit 0 when every table meets --fail-under (default 100), else 4.",
		usage:   "--release R [flags]",
		example: "tandem coverage --dsn postgres://app@db:5432/app --release 2.0\n" +
			"tandem coverage --release 2.0 --fail-under 99.5 --json || echo \"below target: $?\"",
		flags: func(fs *flag.FlagSet) {
			cfg.connFlags(fs)
			fs.StringVar(&cfg.release, "release", "", "release whose coverage to report (required)")
			fs.Float64Var(&failUnder, "fail-under", 100, "exit 4 when a table has less than this percent of its rows at --release or later (0..100)")
			fs.BoolVar(&o.Estimate, "estimate", false, "take row counts from the planner's statistics instead of counting (whether a table is complete stays exact)")
			fs.BoolVar(&o.Histogram, "histogram", false, "show the rows per object version (groups each whole table)")
			fs.IntVar(&o.StaleKeys, "stale-keys", migrations.DefaultStaleKeys, "how many stale primary keys to show per table (0: none)")
		},
		run: func(ctx context.Context, a *app, fs *flag.FlagSet) int {
			if fs.NArg() > 0 {
				return a.fail("coverage", usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))})
			}
			if cfg.release == "" {
				return a.fail("coverage", usageError{errors.New("--release is required: the release the rows should be at")})
			}
			if math.IsNaN(failUnder) || failUnder < 0 || failUnder > 100 {
				return a.fail("coverage", usageError{fmt.Errorf("--fail-under %v: want a percent from 0 to 100", failUnder)})
			}
			if o.StaleKeys < 0 {
				return a.fail("coverage", usageError{fmt.Errorf("--stale-keys %d: want 0 or more", o.StaleKeys)})
			}
			if o.StaleKeys == 0 {
				o.StaleKeys = -1 // the library's 0 means its default
			}
			rel, err := cfg.targetRelease()
			if err != nil {
				return a.fail("coverage", err)
			}
			cfg.logf = a.logger(cfg.verbose)
			r, done, err := a.runner(ctx, cfg)
			if err != nil {
				return a.fail("coverage", err)
			}
			defer done()
			cov, err := r.Coverage(ctx, rel, o)
			if err != nil {
				return a.fail("coverage", err)
			}
			var below []migrations.TableCoverage
			for _, t := range cov.Tables {
				if !meets(t, failUnder) {
					below = append(below, t)
				}
			}
			code := migrations.ExitOK
			if len(below) > 0 {
				code = migrations.ExitMigratePending
			}
			if cfg.jsonOut {
				a.printJSON(struct {
					*migrations.Coverage
					FailUnder float64 `json:"fail_under"`
					TargetMet bool    `json:"target_met"`
				}{cov, failUnder, len(below) == 0})
				return code
			}
			a.printCoverage(cov, o.Histogram, failUnder, below)
			return code
		},
	}
}

// meets reports whether t holds the target; 100 means no stale row at all,
// whatever the rounding.
func meets(t migrations.TableCoverage, failUnder float64) bool {
	if failUnder >= 100 {
		return t.Stale == 0
	}
	return t.Percent >= failUnder
}

// shownPercent formats a percent rounded down, so that a table with a stale
// row never shows 100.00%.
func shownPercent(p float64) string {
	return fmt.Sprintf("%.2f%%", math.Floor(p*100)/100)
}

func (a *app) printCoverage(cov *migrations.Coverage, histogram bool, failUnder float64, below []migrations.TableCoverage) {
	approx := func(n int64, estimated bool) string {
		if estimated {
			return fmt.Sprintf("~%d", n)
		}
		return fmt.Sprint(n)
	}
	fmt.Fprintf(a.out, "coverage of release %s: %d versioned table(s), %s row(s), %s stale, %s at %s or later\n",
		cov.Release, len(cov.Tables), approx(cov.Rows, cov.Estimated), approx(cov.Stale, cov.Estimated), shownPercent(cov.Percent), cov.Release)
	if len(cov.Tables) == 0 {
		fmt.Fprintln(a.out, "no versioned table is registered: the model registry (tandem_models) is filled when an instance with the compat plugin starts")
	} else {
		fmt.Fprintf(a.out, "\n%-28s %12s %12s %9s  %-14s %s\n", "TABLE", "ROWS", "STALE", "PERCENT", "OLDEST", "STALE KEYS (sample)")
	}
	for _, t := range cov.Tables {
		oldest := t.Oldest
		if oldest == "" {
			oldest = "-"
		}
		keys := strings.Join(t.StaleKeys, "; ")
		if keys == "" {
			keys = "-"
		}
		fmt.Fprintf(a.out, "%-28s %12s %12s %9s  %-14s %s\n", t.Table, approx(t.Rows, t.Estimated), approx(t.Stale, t.Estimated), shownPercent(t.Percent), oldest, keys)
		if histogram {
			for _, b := range t.Histogram {
				v := b.Version
				if b.Marked {
					v += " (marked L(c))"
				}
				fmt.Fprintf(a.out, "    %-24s %12d\n", v, b.Rows)
			}
		}
	}
	for _, n := range cov.Notes {
		fmt.Fprintf(a.out, "note: %s\n", n)
	}
	fmt.Fprintln(a.out)
	if len(below) == 0 {
		if failUnder >= 100 {
			fmt.Fprintf(a.out, "complete: every row of every versioned table is at %s or later\n", cov.Release)
		} else {
			fmt.Fprintf(a.out, "ok: every versioned table has at least %v%% of its rows at %s or later\n", failUnder, cov.Release)
		}
		return
	}
	var names []string
	for _, t := range below {
		names = append(names, fmt.Sprintf("%s (%s)", t.Table, shownPercent(t.Percent)))
	}
	fmt.Fprintf(a.out, "below %v%%: %s\n", failUnder, strings.Join(names, ", "))
	fmt.Fprintf(a.out, "next: tandem migrate --release %s (backfills the rows stamped below %s)\n", cov.Release, cov.Release)
}
