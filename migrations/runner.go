package migrations

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dblock"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// LockKey is the name of the single-runner lock.
const LockKey = "tandem"

// Gate decides whether the contract of a release may run. It is called
// under the runner's lock, on the runner's connection, after the order
// checks and before any contract migration of the release runs. A refusal
// should wrap ErrGateRefused (exit code 7) and say what to run next.
type Gate interface {
	AllowContract(ctx context.Context, db *gorm.DB, release versions.Version) error
}

// GateFunc adapts a function to Gate.
type GateFunc func(ctx context.Context, db *gorm.DB, release versions.Version) error

// AllowContract implements Gate.
func (f GateFunc) AllowContract(ctx context.Context, db *gorm.DB, r versions.Version) error {
	return f(ctx, db, r)
}

// Runner plans and applies migrations on one database. Build it with New.
type Runner struct {
	db      *gorm.DB
	dialect dialect.Name
	src     *Source

	lockTimeout time.Duration
	ddl         dblock.DDLOptions
	gates       []Gate
	logf        func(format string, args ...any)
	extraGo     []GoMigration
	modelValues []any
	models      []*model.Spec // the service's models, for the converter backfill
	backfill    BackfillOptions
	redoNoted   bool // the redo limit's "ignored" line was logged
	soak        time.Duration
	noArchive   bool
	allowDrops  bool
	observe     func(stage string)
}

// Option configures a Runner; options validate their input.
type Option func(*Runner) error

// WithGoMigrations adds Go migrations to those registered with Register.
func WithGoMigrations(gos ...GoMigration) Option {
	return func(r *Runner) error { r.extraGo = append(r.extraGo, gos...); return nil }
}

// WithModels gives the runner the service's models (pointers to values of
// the model types). The migrate phase's backfill converts their rows with
// the models' converters (model.Upgrader, model.Downgrader); without them it
// can only restamp tables whose shape does not change, or run SQL backfills.
func WithModels(models ...any) Option {
	return func(r *Runner) error { r.modelValues = append(r.modelValues, models...); return nil }
}

// WithBackfill tunes the backfill of the migrate phase.
func WithBackfill(o BackfillOptions) Option {
	return func(r *Runner) error {
		if o.BatchSize < 0 || o.MaxRows < 0 || o.RateLimit < 0 || o.Pause < 0 || o.TargetBatch < 0 || o.MaxPasses < 0 {
			return errors.New("migrations: negative backfill option")
		}
		if err := checkRedoLimit(o.RedoLimit); err != nil {
			return err
		}
		if err := checkDuty(o.Duty); err != nil {
			return err
		}
		r.backfill = o
		return nil
	}
}

// WithLockTimeout sets how long a runner waits for another runner's lock
// (default 1 minute). When it gets the lock it plans again, so a runner that
// waited for another usually finds the work done.
func WithLockTimeout(d time.Duration) Option {
	return func(r *Runner) error {
		if d < 0 {
			return fmt.Errorf("migrations: negative lock timeout %s", d)
		}
		r.lockTimeout = d
		return nil
	}
}

// WithDDL sets PostgreSQL's lock_timeout and statement_timeout for
// migrations and how often a migration that timed out waiting for a lock is
// retried (see dblock.DDLOptions; lock_timeout defaults to 2s).
func WithDDL(o dblock.DDLOptions) Option {
	return func(r *Runner) error {
		if o.Retries < 0 || o.StatementTimeout < 0 || o.Backoff < 0 {
			return fmt.Errorf("migrations: negative DDL retry, timeout or backoff")
		}
		r.ddl = o
		return nil
	}
}

// WithGate adds a contract gate. Every gate must allow a contract; the
// ready-for-contract flag check is always the first.
func WithGate(g Gate) Option {
	return func(r *Runner) error {
		if g == nil {
			return errors.New("migrations: nil gate")
		}
		r.gates = append(r.gates, g)
		return nil
	}
}

// WithLogf sets where progress lines go (default: nowhere).
func WithLogf(logf func(format string, args ...any)) Option {
	return func(r *Runner) error {
		if logf != nil {
			r.logf = logf
		}
		return nil
	}
}

// New builds a runner for db with the migration files in fsys (nil for
// none) and the Go migrations registered with Register. It validates the
// whole source at once and checks that every migration serves db's dialect.
func New(db *gorm.DB, fsys fs.FS, opts ...Option) (*Runner, error) {
	if db == nil {
		return nil, errors.New("migrations: nil *gorm.DB")
	}
	r := &Runner{db: db, dialect: dialect.Of(db), lockTimeout: time.Minute, logf: func(string, ...any) {}}
	if !r.dialect.Valid() {
		return nil, fmt.Errorf("migrations: unsupported GORM dialect %q (tandem supports postgres, mysql and sqlite)", db.Dialector.Name())
	}
	for _, o := range opts {
		if err := o(r); err != nil {
			return nil, err
		}
	}
	if len(r.modelValues) > 0 {
		reg := model.NewRegistry()
		if err := reg.Register(db, r.modelValues...); err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		for _, s := range reg.Specs() {
			if s.Stamped() {
				r.models = append(r.models, s)
			}
		}
	}
	src, err := Load(fsys, append(Registered(), r.extraGo...)...)
	if err != nil {
		return nil, err
	}
	if err := src.CheckDialect(r.dialect); err != nil {
		return nil, err
	}
	r.src = src
	r.ddl.Logf = r.logf
	return r, nil
}

// Source returns the runner's migrations.
func (r *Runner) Source() *Source { return r.src }

// Dialect returns the database's dialect.
func (r *Runner) Dialect() dialect.Name { return r.dialect }

// DB returns the database the runner works on.
func (r *Runner) DB() *gorm.DB { return r.db }

// Init creates tandem's tables where they do not exist yet.
func (r *Runner) Init(ctx context.Context) error {
	return r.locked(ctx, func(db *gorm.DB) error {
		return store.Journal(ctx, db, "init", versions.Version{}, "tandem tables ready")
	})
}

// locked runs fn on one connection holding the single-runner lock, after
// making sure tandem's tables exist.
func (r *Runner) locked(ctx context.Context, fn func(db *gorm.DB) error) error {
	return r.withLock(ctx, true, fn)
}

// lockedAsFound is locked without creating tandem's tables first, for a
// command that may refuse: its refusal leaves a database that tandem does
// not manage (a wrong --dsn) as it was. fn reads tables that may be
// missing (the store's readers return nothing for them) and calls
// ensureTables before its first write.
func (r *Runner) lockedAsFound(ctx context.Context, fn func(db *gorm.DB) error) error {
	return r.withLock(ctx, false, fn)
}

func (r *Runner) withLock(ctx context.Context, ensure bool, fn func(db *gorm.DB) error) error {
	return r.db.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		lock, err := dblock.Acquire(ctx, conn, dblock.Options{Key: LockKey, Timeout: r.lockTimeout, Logf: r.logf})
		if err != nil {
			return err
		}
		work := lock.DB()
		err = dblock.SetSessionTimeouts(ctx, work, r.ddl)
		if err == nil && ensure {
			err = ensureTables(ctx, work)
		}
		if err == nil {
			err = fn(work)
		}
		// The connection goes back to the caller's pool: the DDL timeouts
		// must not stay on it for the service's own queries.
		if rerr := r.resetSessionTimeouts(context.WithoutCancel(ctx), work); rerr != nil && err == nil {
			err = rerr
		}
		if rerr := lock.Release(context.WithoutCancel(ctx)); rerr != nil && err == nil {
			err = fmt.Errorf("migrations: release the runner lock: %w", rerr)
		}
		return err
	})
}

// ensureTables creates tandem's tables where they are missing. On
// PostgreSQL it does so in one transaction: GORM creates a table's indexes
// after the table, and a runner killed in between would leave the table
// without them for good (Ensure skips tables that exist). MySQL declares
// the indexes inside CREATE TABLE; on SQLite the runner's lock is already
// one transaction.
func ensureTables(ctx context.Context, db *gorm.DB) error {
	if dialect.Of(db) != dialect.Postgres {
		return store.Ensure(ctx, db)
	}
	return db.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return store.Ensure(ctx, tx) })
}

// resetSessionTimeouts gives the session the server's defaults back for
// what dblock.SetSessionTimeouts changed.
func (r *Runner) resetSessionTimeouts(ctx context.Context, db *gorm.DB) error {
	var stmts []string
	switch r.dialect {
	case dialect.Postgres:
		stmts = []string{"RESET lock_timeout", "RESET statement_timeout"}
	case dialect.MySQL:
		stmts = []string{"SET SESSION lock_wait_timeout = DEFAULT"}
	}
	for _, q := range stmts {
		if err := db.WithContext(ctx).Exec(q).Error; err != nil {
			return fmt.Errorf("migrations: restore the session's timeouts (%s): %w", q, err)
		}
	}
	return nil
}

// resolve turns the requested target into a known release; the zero
// Version means the newest the source knows.
func (r *Runner) resolve(target versions.Version) (versions.Version, error) {
	rs := r.src.Releases()
	if target.IsZero() {
		if len(rs) == 0 {
			return target, fmt.Errorf("%w: the migration source is empty, so there is no newest release\nhint: pass --dir with your migration files", ErrUnknownRelease)
		}
		return rs[len(rs)-1], nil
	}
	for _, k := range rs {
		if k == target {
			return target, nil
		}
	}
	return target, &UnknownReleaseError{Release: target, Known: rs}
}

// UnknownReleaseError refuses a release the migration source does not name.
type UnknownReleaseError struct {
	Release versions.Version
	Known   []versions.Version
}

// Error implements error.
func (e *UnknownReleaseError) Error() string {
	return fmt.Sprintf("migrations: release %s is unknown: no migration names it (known: %v)\nhint: check --release and --dir", e.Release, e.Known)
}

// Is makes errors.Is(err, ErrUnknownRelease) true.
func (e *UnknownReleaseError) Is(target error) bool { return target == ErrUnknownRelease }
