package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/tandemdb/tandem/migrations"
)

func archiveCommand() *command {
	cfg := &runConfig{}
	return &command{
		name:    "archive",
		summary: "List the archives of the columns contracts dropped (tandem_archive_*): source table, release, key, columns and row counts.",
		usage:   "list [flags]",
		example: "tandem archive list --dsn postgres://app@db:5432/app\ntandem archive list --json",
		flags: func(fs *flag.FlagSet) {
			cfg.connFlags(fs)
		},
		run: func(ctx context.Context, a *app, fs *flag.FlagSet) int {
			cfg.logf = a.logger(cfg.verbose)
			if args := fs.Args(); len(args) != 1 || args[0] != "list" {
				return a.fail("archive", usageError{errors.New("want 'archive list'")})
			}
			return runArchiveList(ctx, a, cfg)
		},
	}
}

func runArchiveList(ctx context.Context, a *app, cfg *runConfig) int {
	r, done, err := a.runner(ctx, cfg)
	if err != nil {
		return a.fail("archive", err)
	}
	defer done()
	infos, err := migrations.Archives(ctx, r.DB())
	if err != nil {
		return a.fail("archive", err)
	}
	if cfg.jsonOut {
		return a.printJSON(infos)
	}
	if len(infos) == 0 {
		fmt.Fprintln(a.out, "no archives: a contract archives the columns it drops, unless run with --no-archive")
		return migrations.ExitOK
	}
	fmt.Fprintf(a.out, "%-40s %-20s %-8s %-10s %-20s %-19s %s\n", "ARCHIVE", "SOURCE", "RELEASE", "ROWS", "KEY", "ARCHIVED", "COLUMNS")
	for _, in := range infos {
		at := "-"
		if !in.ArchivedAt.IsZero() {
			at = in.ArchivedAt.Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(a.out, "%-40s %-20s %-8s %-10d %-20s %-19s %s\n", in.Table, orDash(in.Source), orDash(in.Release), in.Rows,
			orDash(strings.Join(in.PrimaryKey, ",")), at, orDash(strings.Join(in.Columns, ",")))
	}
	return migrations.ExitOK
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// runPlanWrite is `tandem plan --release L --write DIR`: it writes the
// expand and contract files of L for every dialect, generated from the
// model registry, for review.
func runPlanWrite(ctx context.Context, a *app, cfg *runConfig, dir string) int {
	if cfg.release == "" {
		return a.fail("plan", usageError{errors.New("--write needs --release: the release whose expand and contract files to generate")})
	}
	rel, err := cfg.targetRelease()
	if err != nil {
		return a.fail("plan", err)
	}
	if info, err := os.Stat(dir); err == nil && !info.IsDir() {
		return a.fail("plan", usageError{fmt.Errorf("--write %s is a file, not a directory: pass the directory to write the generated files into (it is created if missing)", dir)})
	}
	r, done, err := a.runner(ctx, cfg)
	if err != nil {
		return a.fail("plan", err)
	}
	defer done()
	written, err := r.GenerateFiles(ctx, rel, dir)
	if err != nil {
		return a.fail("plan", err)
	}
	if cfg.jsonOut {
		return a.printJSON(map[string]any{"release": rel.String(), "written": written})
	}
	if len(written) == 0 {
		fmt.Fprintf(a.out, "nothing to write: the migrations of %s already add and drop what its models declare\n", rel)
		return migrations.ExitOK
	}
	fmt.Fprintf(a.out, "wrote %d file(s) for release %s:\n", len(written), rel)
	for _, p := range written {
		fmt.Fprintf(a.out, "  %s\n", p)
	}
	fmt.Fprintln(a.out, "review them (look for TODO), move them into your migration directory, then run 'tandem validate'")
	return migrations.ExitOK
}
