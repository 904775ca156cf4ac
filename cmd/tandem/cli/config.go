package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/wire"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/internal/dblock"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

// Option customises the CLI for a service's own migration binary.
type Option func(*settings)

type settings struct {
	fsys   fs.FS // migrations used when --dir is not given
	gos    []migrations.GoMigration
	models []any
}

// WithMigrations sets the migration files used when neither --dir nor
// TANDEM_DIR is given, typically an embed.FS compiled into the binary.
func WithMigrations(fsys fs.FS) Option { return func(s *settings) { s.fsys = fsys } }

// WithGoMigrations adds Go migrations to those registered with
// migrations.Register.
func WithGoMigrations(gos ...migrations.GoMigration) Option {
	return func(s *settings) { s.gos = append(s.gos, gos...) }
}

// WithModels gives the CLI the service's models, so that `tandem migrate`
// backfills their rows with the models' converters.
func WithModels(models ...any) Option {
	return func(s *settings) { s.models = append(s.models, models...) }
}

// Main runs the CLI with args (without the program name) and returns the
// exit code.
func Main(ctx context.Context, args []string, s Streams, opts ...Option) int {
	var st settings
	for _, o := range opts {
		o(&st)
	}
	return initApp(s, st).run(ctx, args)
}

// runConfig is what a command that works on a database was given.
type runConfig struct {
	dsn, dir         string
	release          string
	jsonOut, verbose bool
	lockTimeout      time.Duration
	connectTimeout   time.Duration
	ddlLockTimeout   time.Duration
	statementTimeout time.Duration
	ddlRetries       int
	limit            int
	backfill         migrations.BackfillOptions
	redoLimit        string // --redo-limit as given: auto, off or a share
	duty             string // --duty as given: auto, off or a share
	soak             time.Duration
	noArchive        bool
	allowDrops       bool
	backup           string
	progress         func(migrations.Progress)
	settings         settings
	logf             func(format string, args ...any)
}

// connFlags declares the flags every database command shares.
func (c *runConfig) connFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.dsn, "dsn", "", "database to work on: postgres://..., mysql://... or user:pass@tcp(host:3306)/db, sqlite:PATH (default $TANDEM_DSN, then $DATABASE_URL)")
	fs.StringVar(&c.dir, "dir", "", "directory of migration files (default $TANDEM_DIR, then ./migrations)")
	fs.BoolVar(&c.jsonOut, "json", false, "print the result as JSON")
	fs.BoolVar(&c.verbose, "v", false, "log progress to stderr")
	fs.DurationVar(&c.lockTimeout, "lock-timeout", time.Minute, "how long to wait for another tandem runner before giving up (exit 7)")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 10*time.Second, "how long to wait for the database server to answer when connecting (0: no limit)")
}

// check refuses flag values no command can use, before anything connects.
func (c *runConfig) check() error {
	durations := []struct {
		flag string
		d    time.Duration
	}{
		{"lock-timeout", c.lockTimeout}, {"connect-timeout", c.connectTimeout},
		{"ddl-lock-timeout", c.ddlLockTimeout}, {"statement-timeout", c.statementTimeout},
		{"batch-time", c.backfill.TargetBatch}, {"pause", c.backfill.Pause}, {"soak", c.soak},
	}
	for _, f := range durations {
		if f.d < 0 {
			return usageError{fmt.Errorf("--%s %s: want a duration of 0 or more, e.g. --%s 30s", f.flag, f.d, f.flag)}
		}
	}
	counts := []struct {
		flag string
		n    int64
	}{
		{"ddl-retries", int64(c.ddlRetries)}, {"limit", int64(c.limit)},
		{"max-rows", c.backfill.MaxRows}, {"batch-size", int64(c.backfill.BatchSize)},
	}
	for _, f := range counts {
		if f.n < 0 {
			return usageError{fmt.Errorf("--%s %d: want 0 or more", f.flag, f.n)}
		}
	}
	if r := c.backfill.RateLimit; r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return usageError{fmt.Errorf("--rate %v: want rows per second, 0 or more (0: no limit)", r)}
	}
	if err := c.checkRedoLimit(); err != nil {
		return err
	}
	return c.checkDuty()
}

// checkDuty turns --duty into BackfillOptions.Duty: auto (0, the
// default), off or 1 (migrations.DutyOff), or a share from 0.1 to 0.9.
func (c *runConfig) checkDuty() error {
	switch v := strings.TrimSpace(c.duty); v {
	case "", "auto":
		c.backfill.Duty = 0
	case "off", "1":
		c.backfill.Duty = migrations.DutyOff
	default:
		d, err := strconv.ParseFloat(v, 64)
		if err != nil || !(d >= 0.1 && d <= 0.9) {
			return usageError{fmt.Errorf("--duty %s: want the share of the time the backfill works, from 0.1 to 0.9, e.g. 0.5, or auto (the default) or off", v)}
		}
		c.backfill.Duty = d
	}
	return nil
}

// checkRedoLimit turns --redo-limit into BackfillOptions.RedoLimit: auto
// (0), off or 0 (migrations.RedoOff), or a share from 0.2 to 0.9.
func (c *runConfig) checkRedoLimit() error {
	switch v := strings.TrimSpace(c.redoLimit); v {
	case "", "auto":
		c.backfill.RedoLimit = 0
	case "off", "0":
		c.backfill.RedoLimit = migrations.RedoOff
	default:
		l, err := strconv.ParseFloat(v, 64)
		if err != nil || !(l >= 0.2 && l <= 0.9) {
			return usageError{fmt.Errorf("--redo-limit %s: want a share of InnoDB's redo from 0.2 to 0.9, e.g. 0.5, or auto (the default) or off", v)}
		}
		c.backfill.RedoLimit = l
	}
	return nil
}

// connectContext bounds connecting to the database by --connect-timeout, so
// that a server that accepts the connection but never answers cannot hang
// the command.
func (c *runConfig) connectContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.connectTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.connectTimeout)
}

// connectError says so when connecting failed because the server did not
// answer within --connect-timeout.
func (c *runConfig) connectError(ctx, connectCtx context.Context, err error) error {
	if err != nil && ctx.Err() == nil && errors.Is(connectCtx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer from the database server within %s (--connect-timeout): %w", c.connectTimeout, err)
	}
	return err
}

// backfillFlags declares the flags of migrate's backfill.
func (c *runConfig) backfillFlags(fs *flag.FlagSet) {
	fs.Int64Var(&c.backfill.MaxRows, "max-rows", 0, "stop after this many rows with exit code 8 (more work remains); 0: no limit")
	fs.IntVar(&c.backfill.BatchSize, "batch-size", 500, "rows in the first batch; later batches adapt to --batch-time")
	fs.DurationVar(&c.backfill.TargetBatch, "batch-time", 100*time.Millisecond, "aimed duration of one batch (a short transaction)")
	fs.Float64Var(&c.backfill.RateLimit, "rate", 0, "at most this many rows per second (0: no limit)")
	fs.DurationVar(&c.backfill.Pause, "pause", 0, "pause between batches")
	fs.StringVar(&c.redoLimit, "redo-limit", "auto", "MariaDB: before each batch, wait (up to 10s) while InnoDB's redo not yet checkpointed is above this share of its maximum, so that the backfill does not force InnoDB to flush in the foreground and stall the service's writes: 0.2 to 0.9, e.g. 0.5; auto: 0.5 while the server's other sessions run 20 statements a second or more, none while they are quiet; off (or 0): never")
	fs.StringVar(&c.duty, "duty", "auto", "the share of the time the backfill works: after a batch of t it pauses t*(1-share)/share, so that the service's statements find the server free more often: 0.1 to 0.9, e.g. 0.5; auto: on PostgreSQL 0.2 while the database's other sessions end 50 transactions a second or more, none while they are quiet (MariaDB has --redo-limit instead); off (or 1): never")
}

// contractFlags declares the flags of contract's gate.
func (c *runConfig) contractFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.soak, "soak", 0, "require the ready-for-contract flag to have been set this long")
	fs.BoolVar(&c.noArchive, "no-archive", false, "do not copy the dropped columns into tandem_archive_* tables first")
	fs.BoolVar(&c.allowDrops, "allow-undeclared-drops", false, "let contract migrations drop or alter columns no model declares deprecated (journaled)")
}

// releaseFlag declares --release.
func (c *runConfig) releaseFlag(fs *flag.FlagSet, what string) {
	fs.StringVar(&c.release, "release", "", what+" (default: the newest release the migrations name)")
}

// ddlFlags declares the DDL safety flags of the phase commands.
func (c *runConfig) ddlFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.ddlLockTimeout, "ddl-lock-timeout", 2*time.Second, "PostgreSQL lock_timeout for migration statements; a statement that times out is retried with backoff")
	fs.DurationVar(&c.statementTimeout, "statement-timeout", 0, "PostgreSQL statement_timeout for migration statements (0: none)")
	fs.IntVar(&c.ddlRetries, "ddl-retries", 5, "how often a migration that timed out waiting for a lock is retried")
}

func (c *runConfig) targetRelease() (versions.Version, error) {
	if c.release == "" {
		return versions.Version{}, nil
	}
	v, err := versions.Parse(c.release)
	if err != nil {
		return v, usageError{fmt.Errorf("--release: %w", err)}
	}
	return v, nil
}

// usageError marks an error as a usage error (exit code 2).
type usageError struct{ error }

func (u usageError) Unwrap() error { return u.error }

// runnerFactory builds a runner for a command; the func releases it.
type runnerFactory func(ctx context.Context, cfg *runConfig) (*migrations.Runner, func(), error)

func provideRunnerFactory() runnerFactory { return initRunner }

var runnerSet = wire.NewSet(provideTarget, provideDB, provideSource, provideRunnerOptions, newRunner)

// errNoDSN is returned when no database was named.
var errNoDSN = errors.New("no database given: pass --dsn, or set TANDEM_DSN or DATABASE_URL (e.g. --dsn sqlite:app.db or --dsn postgres://user@localhost:5432/app)")

func provideTarget(cfg *runConfig) (dialect.Target, error) {
	dsn := cfg.dsn
	for _, env := range []string{"TANDEM_DSN", "DATABASE_URL"} {
		if dsn == "" {
			dsn = os.Getenv(env)
		}
	}
	if strings.TrimSpace(dsn) == "" {
		return dialect.Target{}, usageError{errNoDSN}
	}
	t, err := dialect.ParseDSN(dsn)
	if err != nil {
		return t, usageError{err}
	}
	return t, nil
}

func provideDB(ctx context.Context, t dialect.Target) (*gorm.DB, func(), error) {
	db, err := dialect.Open(ctx, t, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, nil, err
	}
	return db, func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	}, nil
}

func provideSource(cfg *runConfig) (fs.FS, error) {
	dir := cfg.dir
	if dir == "" {
		dir = os.Getenv("TANDEM_DIR")
	}
	if dir == "" && cfg.settings.fsys != nil {
		return cfg.settings.fsys, nil
	}
	explicit := dir != ""
	if dir == "" {
		dir = "migrations"
	}
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		if !explicit {
			return nil, nil // no migrations: status and init still work
		}
		return nil, usageError{fmt.Errorf("migration directory %q not found; pass --dir with the directory of your .sql files", dir)}
	}
	return os.DirFS(dir), nil
}

func provideRunnerOptions(cfg *runConfig) []migrations.Option {
	opts := []migrations.Option{
		migrations.WithLockTimeout(cfg.lockTimeout),
		migrations.WithDDL(dblock.DDLOptions{LockTimeout: cfg.ddlLockTimeout, StatementTimeout: cfg.statementTimeout, Retries: cfg.ddlRetries}),
		migrations.WithGoMigrations(cfg.settings.gos...),
	}
	if cfg.logf != nil {
		opts = append(opts, migrations.WithLogf(cfg.logf))
	}
	if len(cfg.settings.models) > 0 {
		opts = append(opts, migrations.WithModels(cfg.settings.models...))
	}
	b := cfg.backfill
	b.Progress = cfg.progress
	opts = append(opts, migrations.WithBackfill(b), migrations.WithSoak(cfg.soak))
	if cfg.noArchive {
		opts = append(opts, migrations.WithoutArchive())
	}
	if cfg.allowDrops {
		opts = append(opts, migrations.WithUndeclaredDrops())
	}
	return opts
}

func newRunner(db *gorm.DB, fsys fs.FS, opts []migrations.Option) (*migrations.Runner, error) {
	return migrations.New(db, fsys, opts...)
}
