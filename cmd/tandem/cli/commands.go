package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

func engineCommands() []*command {
	return []*command{
		phaseCommand(versions.PhaseExpand, "Apply the pending expand migrations (additive DDL) of every release up to --release.",
			"tandem expand --dsn postgres://app@db:5432/app --dir migrations --release 2.0"),
		phaseCommand(versions.PhaseMigrate, "Apply the pending migrate migrations (data moves) of every release up to --release.",
			"tandem migrate --dsn postgres://app@db:5432/app --release 2.0"),
		phaseCommand(versions.PhaseContract, "Apply the pending contract migrations (destructive DDL) of every release up to --release, once its flag is contract-ready.",
			"tandem contract --dsn postgres://app@db:5432/app --release 2.0 --yes"),
		dbCommand("init", "Create tandem's tables (tandem_*) in the database.", "", "tandem init --dsn sqlite:app.db", false, runInit),
		dbCommand("status", "Show each release's state, composite schema version, pending migrations and the last failure.", "",
			"tandem status --dsn postgres://app@db:5432/app --json", false, runStatus),
		dbCommand("check", "Exit with the code of the first thing pending for --release (0 nothing, 3 expand, 4 migrate, 5 flag, 6 contract).", "",
			"tandem check --release 2.0 || echo \"pending: $?\"", true, runCheck),
		dbCommand("plan", "Print, per phase, the migrations that would run and their SQL for this database's dialect. Changes nothing.", "",
			"tandem plan --dsn mysql://root@localhost:3306/app --release 2.0", true, runPlan),
		dbCommand("history", "Show the migration history and the journal of who did what.", "",
			"tandem history --limit 20", false, runHistory),
		dbCommand("repair", "Accept the current content of applied migrations whose files were edited (their checksums changed).", "",
			"tandem repair --dsn sqlite:app.db --yes", false, runRepair),
		dbCommand("baseline", "Mark a database built without tandem (e.g. by AutoMigrate) as being at --release.", "",
			"tandem baseline --dsn postgres://app@db:5432/app --release 1.0 --yes", true, runBaseline),
		dbCommand("validate", "Check the migration files (names, numbering, SQL syntax for every dialect) and, with a database, their checksums.", "",
			"tandem validate --dir migrations", false, runValidate),
		flagCommand(),
		instancesCommand(),
		demoCommand(),
		backupCommand(),
		archiveCommand(),
		coverageCommand(),
	}
}

// dbCommand declares a command that works on a database.
func dbCommand(name, summary, usage, example string, release bool, run func(ctx context.Context, a *app, cfg *runConfig, yes bool, fs *flag.FlagSet) int) *command {
	cfg := &runConfig{}
	var yes bool
	return &command{
		name: name, summary: summary, usage: "[flags]" + usage, example: example,
		flags: func(fs *flag.FlagSet) {
			cfg.connFlags(fs)
			if release {
				cfg.releaseFlag(fs, "release to work on")
			}
			switch name {
			case "repair", "baseline":
				fs.BoolVar(&yes, "yes", false, "do not ask for confirmation (required when stdin is not a terminal)")
			case "history":
				fs.IntVar(&cfg.limit, "limit", 50, "show at most this many journal events (0: all)")
			case "plan":
				fs.String("write", "", "instead of printing the plan, write into this directory, for review, the expand and contract files of --release for every dialect, generated from the model registry")
			}
		},
		run: func(ctx context.Context, a *app, fs *flag.FlagSet) int {
			if fs.NArg() > 0 {
				return a.fail(name, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))})
			}
			cfg.logf = a.logger(cfg.verbose)
			return run(ctx, a, cfg, yes, fs)
		},
	}
}

func phaseCommand(phase versions.Phase, summary, example string) *command {
	cfg := &runConfig{}
	var dryRun, yes bool
	name := phase.String()
	return &command{
		name: name, summary: summary, usage: "[flags]", example: example,
		flags: func(fs *flag.FlagSet) {
			cfg.connFlags(fs)
			cfg.releaseFlag(fs, "apply up to this release")
			cfg.ddlFlags(fs)
			fs.BoolVar(&dryRun, "dry-run", false, "print what would run, with its SQL, and change nothing")
			switch phase {
			case versions.PhaseMigrate:
				cfg.backfillFlags(fs)
			case versions.PhaseContract:
				cfg.contractFlags(fs)
			}
			if phase != versions.PhaseMigrate {
				fs.StringVar(&cfg.backup, "backup", "", "back the database up to this file first (pg_dump, mariadb-dump or VACUUM INTO); stop if that fails")
			}
			if phase == versions.PhaseContract {
				fs.BoolVar(&yes, "yes", false, "do not ask for confirmation (required when stdin is not a terminal)")
			} else {
				fs.BoolVar(&yes, "yes", false, "accepted for symmetry with contract; "+name+" is not destructive and never asks")
			}
		},
		run: func(ctx context.Context, a *app, fs *flag.FlagSet) int {
			if fs.NArg() > 0 {
				return a.fail(name, usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))})
			}
			cfg.logf = a.logger(cfg.verbose || !cfg.jsonOut)
			if phase == versions.PhaseMigrate {
				cfg.progress = a.progressPrinter(cfg.jsonOut)
			}
			target, err := cfg.targetRelease()
			if err != nil {
				return a.fail(name, err)
			}
			r, done, err := a.runner(ctx, cfg)
			if err != nil {
				return a.fail(name, err)
			}
			defer done()
			if dryRun {
				p, err := r.Plan(ctx, target, phase)
				if err != nil {
					return a.fail(name, err)
				}
				return a.printPlan(p, cfg.jsonOut)
			}
			if phase == versions.PhaseContract && !a.confirm(yes, "contract drops what the releases up to "+orNewest(cfg.release)+" deprecated; this cannot be undone.") {
				return a.fail(name, usageError{errors.New("contract is destructive: confirm at the prompt, or pass --yes when stdin is not a terminal")})
			}
			if cfg.backup != "" {
				if err := a.backupBefore(ctx, cfg, cfg.backup); err != nil {
					return a.fail(name, err)
				}
			}
			var rep *migrations.Report
			switch phase {
			case versions.PhaseExpand:
				rep, err = r.Expand(ctx, target)
			case versions.PhaseMigrate:
				rep, err = r.Migrate(ctx, target)
			default:
				rep, err = r.Contract(ctx, target)
			}
			if err != nil && !(errors.Is(err, migrations.ErrMoreWork) && rep != nil) {
				return a.fail(name, err)
			}
			code := migrations.ExitCode(err)
			if cfg.jsonOut {
				a.printJSON(rep)
				return code
			}
			for _, b := range rep.Backfill {
				fmt.Fprintf(a.out, "backfill %s (%s): %d row(s) converted, %d retried, %d still stale", b.Table, b.Kind, b.Rows, b.Conflicts, b.Remaining)
				if b.ThrottledMS > 0 {
					fmt.Fprintf(a.out, "; waited %s for the server's redo (--redo-limit)", time.Duration(b.ThrottledMS)*time.Millisecond)
				}
				if b.PausedMS > 0 {
					fmt.Fprintf(a.out, "; paused %s for the service (--duty)", time.Duration(b.PausedMS)*time.Millisecond)
				}
				fmt.Fprintln(a.out)
			}
			if err != nil {
				fmt.Fprintf(a.err, "tandem %s: %s\n", name, a.scrub(err.Error()))
				return code
			}
			if len(rep.Applied) == 0 {
				fmt.Fprintf(a.out, "%s up to %s: nothing to apply; schema version %s\n", name, rep.Target, rep.Schema)
			} else {
				fmt.Fprintf(a.out, "%s up to %s: applied %s; schema version %s\n", name, rep.Target, strings.Join(rep.Applied, ", "), rep.Schema)
			}
			return migrations.ExitOK
		},
	}
}

func orNewest(r string) string {
	if r == "" {
		return "the newest release"
	}
	return r
}

// confirm asks on a terminal; elsewhere only --yes confirms.
func (a *app) confirm(yes bool, what string) bool {
	if yes {
		return true
	}
	f, ok := a.in.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return false
	}
	fmt.Fprintf(a.err, "%s\nType yes to continue: ", what)
	line, _ := bufio.NewReader(f).ReadString('\n')
	return strings.TrimSpace(line) == "yes"
}

func runInit(ctx context.Context, a *app, cfg *runConfig, _ bool, _ *flag.FlagSet) int {
	r, done, err := a.runner(ctx, cfg)
	if err != nil {
		return a.fail("init", err)
	}
	defer done()
	if err := r.Init(ctx); err != nil {
		return a.fail("init", err)
	}
	if cfg.jsonOut {
		return a.printJSON(map[string]any{"initialized": true})
	}
	fmt.Fprintln(a.out, "tandem tables are ready")
	return migrations.ExitOK
}

func runStatus(ctx context.Context, a *app, cfg *runConfig, _ bool, _ *flag.FlagSet) int {
	r, done, err := a.runner(ctx, cfg)
	if err != nil {
		return a.fail("status", err)
	}
	defer done()
	st, err := r.Status(ctx)
	if err != nil {
		return a.fail("status", err)
	}
	if cfg.jsonOut {
		return a.printJSON(st)
	}
	a.printStatus(st)
	return migrations.ExitOK
}

func runCheck(ctx context.Context, a *app, cfg *runConfig, _ bool, _ *flag.FlagSet) int {
	target, err := cfg.targetRelease()
	if err != nil {
		return a.fail("check", err)
	}
	r, done, err := a.runner(ctx, cfg)
	if err != nil {
		return a.fail("check", err)
	}
	defer done()
	res, err := r.Check(ctx, target)
	if err != nil {
		return a.fail("check", err)
	}
	if cfg.jsonOut {
		a.printJSON(res)
		return res.Code
	}
	fmt.Fprintf(a.out, "%s: %s\n", res.Release, a.scrub(res.Reason))
	if res.Next != "" {
		fmt.Fprintf(a.out, "next: %s\n", res.Next)
	}
	return res.Code
}

func runPlan(ctx context.Context, a *app, cfg *runConfig, _ bool, fs *flag.FlagSet) int {
	if dir := fs.Lookup("write").Value.String(); dir != "" {
		return runPlanWrite(ctx, a, cfg, dir)
	}
	target, err := cfg.targetRelease()
	if err != nil {
		return a.fail("plan", err)
	}
	r, done, err := a.runner(ctx, cfg)
	if err != nil {
		return a.fail("plan", err)
	}
	defer done()
	p, err := r.Plan(ctx, target)
	if err != nil {
		return a.fail("plan", err)
	}
	return a.printPlan(p, cfg.jsonOut)
}

func runHistory(ctx context.Context, a *app, cfg *runConfig, _ bool, _ *flag.FlagSet) int {
	r, done, err := a.runner(ctx, cfg)
	if err != nil {
		return a.fail("history", err)
	}
	defer done()
	rows, events, err := r.History(ctx, cfg.limit)
	if err != nil {
		return a.fail("history", err)
	}
	if cfg.jsonOut {
		return a.printJSON(map[string]any{"migrations": rows, "journal": events})
	}
	a.printHistory(rows, events)
	return migrations.ExitOK
}

func runRepair(ctx context.Context, a *app, cfg *runConfig, yes bool, _ *flag.FlagSet) int {
	if !a.confirm(yes, "repair accepts the current content of edited migrations as if it had run.") {
		return a.fail("repair", usageError{errors.New("confirm at the prompt, or pass --yes when stdin is not a terminal")})
	}
	r, done, err := a.runner(ctx, cfg)
	if err != nil {
		return a.fail("repair", err)
	}
	defer done()
	changed, err := r.Repair(ctx)
	if err != nil {
		return a.fail("repair", err)
	}
	if cfg.jsonOut {
		return a.printJSON(map[string]any{"accepted": changed})
	}
	if len(changed) == 0 {
		fmt.Fprintln(a.out, "nothing to repair: every applied migration matches its file")
	}
	for _, c := range changed {
		fmt.Fprintf(a.out, "accepted the new content of %s (%s)\n", c.ID, c.File)
	}
	return migrations.ExitOK
}

func runBaseline(ctx context.Context, a *app, cfg *runConfig, yes bool, _ *flag.FlagSet) int {
	if cfg.release == "" {
		return a.fail("baseline", usageError{errors.New("--release is required: the release the existing database is at")})
	}
	target, err := cfg.targetRelease()
	if err != nil {
		return a.fail("baseline", err)
	}
	if !a.confirm(yes, "baseline records that this database is at "+cfg.release+" without running anything.") {
		return a.fail("baseline", usageError{errors.New("confirm at the prompt, or pass --yes when stdin is not a terminal")})
	}
	r, done, err := a.runner(ctx, cfg)
	if err != nil {
		return a.fail("baseline", err)
	}
	defer done()
	if err := r.Baseline(ctx, target); err != nil {
		return a.fail("baseline", err)
	}
	if cfg.jsonOut {
		return a.printJSON(map[string]any{"baseline": target.String()})
	}
	fmt.Fprintf(a.out, "database marked as at release %s\n", target)
	return migrations.ExitOK
}

func runValidate(ctx context.Context, a *app, cfg *runConfig, _ bool, _ *flag.FlagSet) int {
	cfg.settings = a.settings
	fsys, err := provideSource(cfg)
	if err != nil {
		return a.fail("validate", err)
	}
	rep, err := migrations.Validate(fsys, cfg.settings.gos...)
	if err == nil && (cfg.dsn != "" || os.Getenv("TANDEM_DSN") != "" || os.Getenv("DATABASE_URL") != "") {
		var r *migrations.Runner
		var done func()
		r, done, err = a.runner(ctx, cfg)
		if err == nil {
			defer done()
			var st *migrations.Status
			st, err = r.Status(ctx)
			if err == nil && len(st.Edited) > 0 {
				rep.Problems = append(rep.Problems, migrations.Problem{File: strings.Join(st.Edited, ", "), Reason: "applied but edited since (checksum differs); restore the file or run 'tandem repair'"})
			}
			// The contract scope needs the model registry, which lives in the database.
			for _, rel := range r.Source().Releases() {
				if err != nil {
					break
				}
				var probs []migrations.ScopeProblem
				probs, err = r.ValidateScope(ctx, rel)
				for _, p := range probs {
					pr := migrations.Problem{File: p.File, Reason: p.String()}
					if p.Warning {
						rep.Warnings = append(rep.Warnings, pr)
					} else {
						rep.Problems = append(rep.Problems, pr)
					}
				}
			}
		}
	}
	if err != nil {
		return a.fail("validate", err)
	}
	if cfg.jsonOut {
		a.printJSON(rep)
	} else {
		fmt.Fprintf(a.out, "%d migration(s) in %d release(s)\n", rep.Migrations, len(rep.Releases))
		for _, p := range rep.Problems {
			fmt.Fprintf(a.out, "problem: %s: %s\n", p.File, p.Reason)
		}
		for _, w := range rep.Warnings {
			fmt.Fprintf(a.out, "warning: %s: %s\n", w.File, w.Reason)
		}
		if len(rep.Problems) == 0 {
			fmt.Fprintln(a.out, "ok")
		}
	}
	if len(rep.Problems) > 0 {
		return migrations.ExitError
	}
	return migrations.ExitOK
}
