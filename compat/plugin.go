package compat

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"

	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// Name is the name the plugin registers under in GORM.
const Name = "tandem:compat"

// ErrZeroRelease is returned by Initialize for a plugin built with release
// 0.0, which is reserved for rows written before tandem.
var ErrZeroRelease = errors.New("compat: release 0.0 is reserved for rows written before tandem; construct the plugin with the release this binary implements")

// Plugin is the tandem GORM plugin for one running release. Build it with
// New, install it with (*gorm.DB).Use, and Close it when the service stops.
type Plugin struct {
	release versions.Version
	opts    options
	optErr  error

	db       *gorm.DB // tandem's own queries
	snap     atomic.Pointer[snapshot]
	specs    sync.Map // *schema.Schema -> planEntry
	declared []*model.Spec
	base     versions.Version // see baseRelease
	inst     store.Instance

	changeMu sync.Mutex
	changed  chan struct{}
	beatNow  chan struct{}

	stop      context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closed    atomic.Bool // set by Close: statements on stamped models fail with ErrClosed
}

// New returns a plugin for the given running release.
func New(release versions.Version, opts ...Option) *Plugin {
	p := &Plugin{release: release, opts: defaultOptions(), changed: make(chan struct{}), beatNow: make(chan struct{}, 1)}
	for _, o := range opts {
		if err := o(&p.opts); err != nil && p.optErr == nil {
			p.optErr = err
		}
	}
	return p
}

// Name implements gorm.Plugin.
func (p *Plugin) Name() string { return Name }

// Release returns the release the plugin runs as.
func (p *Plugin) Release() versions.Version { return p.release }

// Initialize implements gorm.Plugin. It checks the declared models, runs the
// start-up guard, registers the models and the instance in the database,
// starts watching the release states and installs the callbacks.
func (p *Plugin) Initialize(db *gorm.DB) error {
	if p.release.IsZero() {
		return ErrZeroRelease
	}
	if p.optErr != nil {
		return p.optErr
	}
	// Initialize's own statements and the wait of WithStartTimeout end with
	// the caller's context (db.WithContext(ctx).Use(p)); the background
	// work, which outlives Initialize, does not.
	ctx := db.Statement.Context
	if ctx == nil {
		ctx = context.Background()
	}
	// The plugin's statements are longer than the application's and write
	// the indexed stamp; on the pure-Go SQLite that would cross into size
	// classes its allocator maps and unmaps around each statement.
	dialect.WarmSQLiteAllocator(db)
	p.db = db.Session(&gorm.Session{NewDB: true, Context: context.Background()})
	reg := model.NewRegistry()
	if err := reg.Register(p.db, p.opts.models...); err != nil {
		return fmt.Errorf("compat: %w", err)
	}
	p.declared = reg.Specs()
	p.base = p.baseRelease()

	states, err := p.waitForGuard(ctx)
	if err != nil {
		return err
	}
	p.snap.Store(p.newSnapshot(states))
	if err := store.Ensure(ctx, p.db); err != nil {
		return fmt.Errorf("compat: %w", err)
	}
	host, _ := os.Hostname()
	now := store.Now()
	p.inst = store.Instance{ID: newInstanceID(), Host: host, PID: os.Getpid(), Release: p.release.String(),
		ReleaseStamp: p.release.Stamp(), StartedAt: now}
	if err := p.registerModels(ctx); err != nil {
		return fmt.Errorf("compat: register models: %w", err)
	}
	if err := p.beat(ctx); err != nil {
		return fmt.Errorf("compat: register instance: %w", err)
	}
	if err := p.recheck(ctx, states); err != nil {
		if _, derr := store.DeleteInstance(context.WithoutCancel(ctx), p.db, p.inst.ID); derr != nil {
			p.opts.logf("tandem: remove the refused instance %s: %v", p.inst.ID, derr)
		}
		return err
	}
	if err := p.registerCallbacks(db); err != nil {
		return err
	}
	if db.Config.Logger != nil {
		db.Config.Logger = &scanLogger{Interface: db.Config.Logger, p: p}
	}
	p.installSelectBuilder(db)
	if err := store.Journal(ctx, p.db, "instance", p.release, fmt.Sprintf("instance %s started (pid %d on %s) in %s", p.inst.ID, p.inst.PID, host, p.Mode())); err != nil {
		p.opts.logf("tandem: %v", err)
	}

	runCtx, stop := context.WithCancel(context.Background())
	p.stop = stop
	p.wg.Add(2)
	go func() { defer p.wg.Done(); p.poll(runCtx) }()
	go func() { defer p.wg.Done(); p.heartbeat(runCtx) }()
	if p.opts.listen && db.Dialector.Name() == "postgres" {
		if sqlDB, err := db.DB(); err == nil {
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.listen(runCtx, sqlDB) }()
		}
	}
	return nil
}

// recheck reads the release states again once the instance is registered,
// and runs the guard on them. An operator's 'tandem flag set' reads the
// registry before it sets the flag, and the guard read the states before
// the instance registered: without the second read, a flag set in between
// would see no instance, and this binary would start in a state that
// forbids it (a release above it contract-ready) or with a stale mode. Now
// either the flag set sees the instance, or this read sees the flag.
//
// The models are recorded again for the same reason: an instance of the
// same release whose declaration differs, started at the same moment, may
// have found no live instance of the release and replaced this one's
// record; now that this instance is live, the conflict is recorded and
// refused instead.
func (p *Plugin) recheck(ctx context.Context, before map[versions.Version]versions.State) error {
	if err := p.registerModels(ctx); err != nil {
		return fmt.Errorf("compat: register models: %w", err)
	}
	states, err := readStates(ctx, p.db)
	if err != nil {
		return fmt.Errorf("compat: read the release states: %w", err)
	}
	if sameStates(before, states) {
		return nil
	}
	gerr := p.guard(states)
	if gerr == nil {
		gerr = p.refillGuard(ctx, states)
	}
	if gerr != nil {
		return gerr
	}
	p.snap.Store(p.newSnapshot(states))
	if err := p.beat(ctx); err != nil {
		return fmt.Errorf("compat: register instance: %w", err)
	}
	return nil
}

func (p *Plugin) registerCallbacks(db *gorm.DB) error {
	cb := db.Callback()
	steps := []struct {
		name string
		err  error
	}{
		{"create (closed)", cb.Create().Before("gorm:begin_transaction").Register("tandem:closed_create", p.refuseClosed)},
		{"update (closed)", cb.Update().Before("gorm:begin_transaction").Register("tandem:closed_update", p.refuseClosed)},
		{"delete (closed)", cb.Delete().Before("gorm:begin_transaction").Register("tandem:closed_delete", p.refuseClosed)},
		{"query (closed)", cb.Query().Before("gorm:query").Register("tandem:closed_query", p.refuseClosed)},
		{"row (closed)", cb.Row().Before("gorm:row").Register("tandem:closed_row", p.refuseClosed)},
		{"delete", cb.Delete().Before("gorm:begin_transaction").After("tandem:closed_delete").Register("tandem:delete", p.beforeDelete)},
		{"update subqueries", cb.Update().Before("gorm:begin_transaction").After("tandem:closed_update").Register("tandem:update_subqueries", p.beforeUpdateSubqueries)},
		{"create", cb.Create().After("gorm:before_create").Before("gorm:create").Register("tandem:create", p.beforeCreate)},
		{"create cleanup", cb.Create().After("gorm:create").Register("tandem:create_done", p.afterWrite)},
		{"update", cb.Update().After("gorm:before_update").Before("gorm:update").Register("tandem:update", p.beforeUpdate)},
		{"update cleanup", cb.Update().After("gorm:update").Register("tandem:update_done", p.afterUpdate)},
		{"query", cb.Query().Before("gorm:query").Register("tandem:query", p.beforeQuery)},
		{"query conversion", cb.Query().After("gorm:query").Before("gorm:preload").Register("tandem:after_query", p.afterQuery)},
		{"row", cb.Row().Before("gorm:row").Register("tandem:row", p.beforeRow)},
		{"row cleanup", cb.Row().After("gorm:row").Register("tandem:row_done", p.afterRow)},
	}
	for _, s := range steps {
		if s.err != nil {
			return fmt.Errorf("compat: register %s callback: %w", s.name, s.err)
		}
	}
	return p.registerJoinChecks(db)
}

// Close stops the plugin's background work and removes the instance from
// the registry. It is safe to call more than once. Call it after the
// service's last statement: from then on the instance is not in the
// registry, so neither 'tandem flag set' nor the contract gate can see it,
// and its state is no longer refreshed; a statement on a stamped model
// through the closed plugin fails with ErrClosed, before any SQL is sent.
// Statements on models without a stamp run as before.
func (p *Plugin) Close() error {
	var err error
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		if p.stop != nil {
			p.stop()
			p.wg.Wait()
		}
		if p.db != nil && p.inst.ID != "" {
			_, err = store.DeleteInstance(context.Background(), p.db, p.inst.ID)
			if err == nil {
				err = store.Journal(context.Background(), p.db, "instance", p.release, "instance "+p.inst.ID+" stopped")
			}
		}
	})
	return err
}

// planEntry caches what the plugin does with one parsed model: as its own
// release, and as its base release (the same plan when they are one).
type planEntry struct {
	plan *modelPlan
	base *modelPlan
	err  error
}

// planFor returns the plan of the statement's model for the release the
// snapshot runs as, or nil when the model is not stamped. It is computed
// once per parsed schema; GORM's schema is never modified.
func (p *Plugin) planFor(db *gorm.DB, snap *snapshot) *modelPlan {
	return p.planOf(db, db.Statement.Schema, snap)
}

func (p *Plugin) planOf(db *gorm.DB, s *schema.Schema, snap *snapshot) *modelPlan {
	if s == nil {
		return nil
	}
	e, ok := p.specs.Load(s)
	if !ok {
		spec, err := model.NewSpec(s)
		var entry planEntry
		if err == nil && spec.Stamped() {
			entry.plan = newModelPlan(spec, p.release)
			entry.base = entry.plan
			if !p.base.IsZero() && p.base != p.release {
				entry.base = newModelPlan(spec, p.base)
			}
		}
		entry.err = err
		e, _ = p.specs.LoadOrStore(s, entry)
	}
	entry := e.(planEntry)
	if entry.err != nil {
		_ = db.AddError(fmt.Errorf("compat: %w", entry.err))
		return nil
	}
	if snap.rel != p.release {
		return entry.base
	}
	return entry.plan
}

var _ gorm.Plugin = (*Plugin)(nil)
