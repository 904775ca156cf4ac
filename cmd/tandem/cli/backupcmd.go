package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/tandemdb/tandem/internal/backup"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

// backupCommand declares 'tandem backup'.
func backupCommand() *command {
	cfg := &runConfig{}
	var out string
	return &command{
		name: "backup",
		summary: "Back the database up with its own tool (pg_dump -Fc, mariadb-dump or mysqldump, SQLite VACUUM INTO) " +
			"and record the backup in the journal. Never overwrites a file.",
		usage: "--out FILE [flags]",
		example: "tandem backup --dsn postgres://app@db:5432/app --out app-before-2.0.dump\n" +
			"pg_restore --dbname postgres://app@db:5432/app_copy app-before-2.0.dump   # restore into an empty database\n" +
			"TANDEM_PG_DUMP=/usr/lib/postgresql/16/bin/pg_dump tandem backup --out app.dump   # pick the tool",
		flags: func(fs *flag.FlagSet) {
			// Of the shared connection flags only these matter here:
			// a backup reads no migration files and takes no runner lock.
			shared := flag.NewFlagSet("", flag.ContinueOnError)
			cfg.connFlags(shared)
			for _, name := range []string{"dsn", "json", "v", "connect-timeout"} {
				f := shared.Lookup(name)
				fs.Var(f.Value, f.Name, f.Usage)
			}
			fs.StringVar(&out, "out", "", "file to write the backup to (required; must not exist). "+
				"Tools: pg_dump, mariadb-dump or mysqldump from PATH, or $TANDEM_PG_DUMP, $TANDEM_MYSQLDUMP")
		},
		run: func(ctx context.Context, a *app, fs *flag.FlagSet) int {
			if fs.NArg() > 0 {
				return a.fail("backup", usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))})
			}
			if out == "" {
				return a.fail("backup", usageError{errors.New("--out is required: the file to write the backup to, e.g. --out app-before-2.0.dump")})
			}
			cfg.logf = a.logger(cfg.verbose)
			res, journaled, err := a.takeBackup(ctx, cfg, out, versions.Version{})
			if res != nil {
				a.printBackup(res, journaled, cfg.jsonOut)
			}
			if err != nil {
				return a.fail("backup", err)
			}
			return migrations.ExitOK
		},
	}
}

// backupBefore backs the database of cfg up to out and journals the
// backup, for a phase command given --backup FILE. It runs before the phase
// opens its runner; an error from it must stop the phase, and says that
// nothing was changed. The backup is announced on stderr (through cfg.logf
// when set), so that --json output stays clean.
func (a *app) backupBefore(ctx context.Context, cfg *runConfig, out string) error {
	rel, err := cfg.targetRelease()
	if err != nil {
		rel = versions.Version{} // the phase reports the bad --release itself
	}
	res, journaled, err := a.takeBackup(ctx, cfg, out, rel)
	if err != nil {
		return fmt.Errorf("backup before changing the database failed, so nothing was changed: %w", err)
	}
	msg := fmt.Sprintf("backup written to %s (%s, %s); %s", res.File, byteSize(res.Bytes), res.Tool, journalNote(journaled))
	if cfg.logf != nil {
		cfg.logf("%s", msg)
	} else {
		fmt.Fprintln(a.err, "tandem: "+a.scrub(msg))
	}
	return nil
}

// takeBackup writes the backup and records it in the journal, under
// release rel (zero: none), when the database is managed by tandem. A
// database without tandem's tables is left as it is: nothing is created for
// the journal's sake, and journaled is false. A backup written but not
// journaled because the journal failed is returned with the error.
func (a *app) takeBackup(ctx context.Context, cfg *runConfig, out string, rel versions.Version) (res *backup.Result, journaled bool, err error) {
	for _, dsn := range []string{cfg.dsn, os.Getenv("TANDEM_DSN"), os.Getenv("DATABASE_URL")} {
		a.secrets = append(a.secrets, passwords(dsn)...)
	}
	target, err := provideTarget(cfg)
	if err != nil {
		return nil, false, err
	}
	if err := cfg.check(); err != nil {
		return nil, false, err
	}
	octx, cancel := cfg.connectContext(ctx)
	db, done, err := provideDB(octx, target)
	cancel()
	if err != nil {
		return nil, false, cfg.connectError(ctx, octx, err)
	}
	defer done()
	if cfg.logf != nil {
		cfg.logf("backing up %s database %s to %s", target.Dialect, target.Database(), out)
	}
	res, err = backup.Backup(ctx, db, target, out)
	if err != nil {
		return nil, false, err
	}
	if !store.Exists(ctx, db) {
		return res, false, nil
	}
	detail := fmt.Sprintf("%s (%d bytes, %s)", res.File, res.Bytes, res.Tool)
	if err := store.Ensure(ctx, db); err != nil {
		return res, false, fmt.Errorf("backup %s written, but recording it in the journal failed: %w", res.File, err)
	}
	if err := store.Journal(ctx, db, "backup", rel, detail); err != nil {
		return res, false, fmt.Errorf("backup %s written, but recording it in the journal failed: %w", res.File, err)
	}
	return res, true, nil
}

// journalNote says whether a backup was journaled.
func journalNote(journaled bool) string {
	if journaled {
		return "recorded in the journal"
	}
	return "not journaled: the database is not managed by tandem yet (no tandem_ tables), and none were created for it"
}

// printBackup prints a written backup.
func (a *app) printBackup(res *backup.Result, journaled bool, asJSON bool) {
	if asJSON {
		a.printJSON(map[string]any{
			"file": res.File, "bytes": res.Bytes, "tool": res.Tool,
			"duration_ms": res.Duration.Milliseconds(), "journaled": journaled,
		})
		return
	}
	fmt.Fprintf(a.out, "backup: %s\nsize: %s\ntool: %s\ntook: %s\njournal: %s\n",
		res.File, byteSize(res.Bytes), res.Tool, res.Duration.Round(time.Millisecond), journalNote(journaled))
}

// byteSize formats a byte count for people: "1234567 bytes (1.2 MiB)".
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%d bytes (%.1f %ciB)", n, float64(n)/float64(div), "KMGTPE"[exp])
}
