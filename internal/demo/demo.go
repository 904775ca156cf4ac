// Package demo runs tandem's protocol end to end on the sample shop
// service: release 1.0 and release 2.0 instances writing concurrently
// through expand, migrate, the flag flip and the contract, with a check that
// every row holds the right values at the end. `tandem demo` runs it.
//
//	err := demo.Run(ctx, demo.Options{Out: os.Stdout}) // embedded SQLite
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/examples/shop"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

// Options configure a demo run.
type Options struct {
	DSN       string // database to use (must be empty); "" runs on SQLite in a temporary directory
	Customers int    // customers to seed (default 300)
	Out       io.Writer
}

// ErrCheckFailed is returned when a row does not hold what was written.
var ErrCheckFailed = errors.New("demo: the final check failed")

type run struct {
	o     Options
	start time.Time
	dsn   string
	db    *gorm.DB
	r     *migrations.Runner
}

func (d *run) say(format string, args ...any) {
	fmt.Fprintf(d.o.Out, "%6.2fs  %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

// timeline prints the state, the composite version, the coverage of 2.0
// and the instances.
func (d *run) timeline(ctx context.Context) {
	st, err := d.r.Status(ctx)
	if err != nil {
		d.say("   status: %v", err)
		return
	}
	var states []string
	for _, rs := range st.Releases {
		states = append(states, fmt.Sprintf("%s %s %s", rs.Release, rs.State, rs.Mode))
	}
	cov := "-"
	if c, err := d.r.Coverage(ctx, shop.V2, migrations.CoverageOptions{StaleKeys: -1}); err == nil {
		cov = fmt.Sprintf("%.1f%% (%d of %d rows stale)", c.Percent, c.Stale, c.Rows)
	}
	insts, _ := d.r.Instances(ctx)
	count := map[string]int{}
	for _, in := range insts {
		if in.Live {
			count[in.Release+" "+in.Mode]++
		}
	}
	var live []string
	for k, n := range count {
		live = append(live, fmt.Sprintf("%d×%s", n, k))
	}
	if len(live) == 0 {
		live = []string{"none"}
	}
	fmt.Fprintf(d.o.Out, "         state: %s | schema: %s | coverage of 2.0: %s | live instances: %s\n",
		strings.Join(states, ", "), st.Schema, cov, strings.Join(live, ", "))
}

// Run runs the demo and returns nil only when the final check passes.
func Run(ctx context.Context, o Options) error {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Customers <= 0 {
		o.Customers = 300
	}
	d := &run{o: o, start: time.Now(), dsn: o.DSN}
	if d.dsn == "" {
		dir, err := os.MkdirTemp("", "tandem-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		d.dsn = "sqlite:" + filepath.Join(dir, "shop.db")
	}
	db, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer closeDB(db)
	d.db = db
	if tables, err := db.Migrator().GetTables(); err != nil {
		return err
	} else if len(tables) > 0 {
		return fmt.Errorf("demo: the database is not empty (%d tables, e.g. %s); give the demo an empty database", len(tables), tables[0])
	}
	d.say("tandem demo on %s (%s)", dialect.Of(db), dialect.Redact(d.dsn))
	d.r, err = migrations.New(db, shop.Migrations(),
		migrations.WithModels(&shop.CustomerV2{}, &shop.ParcelV2{}),
		migrations.WithLockTimeout(time.Minute),
		migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 100, Progress: func(p migrations.Progress) {
			if p.Finished {
				d.say("   backfill %-9s %d row(s) converted, %d retried, %.0f rows/s", p.Table, p.Done, p.Conflicts, p.Rate)
			}
		}}))
	if err != nil {
		return err
	}
	return d.protocol(ctx)
}

func (d *run) open(ctx context.Context) (*gorm.DB, error) {
	return dialect.OpenDSN(ctx, d.dsn, &gorm.Config{Logger: logger.Discard})
}

func closeDB(db *gorm.DB) {
	if s, err := db.DB(); err == nil {
		_ = s.Close()
	}
}

// instance is one running service process of a release.
type instance struct {
	db     *gorm.DB
	plugin *compat.Plugin
}

func (d *run) startInstance(ctx context.Context, rel versions.Version, models ...any) (*instance, error) {
	db, err := d.open(ctx)
	if err != nil {
		return nil, err
	}
	p := compat.New(rel, compat.WithModels(models...), compat.WithPollInterval(100*time.Millisecond), compat.WithHeartbeat(100*time.Millisecond, 3*time.Second))
	if err := db.Use(p); err != nil {
		closeDB(db)
		return nil, err
	}
	return &instance{db: db, plugin: p}, nil
}

func (in *instance) stop() {
	_ = in.plugin.Close()
	closeDB(in.db)
}

// group runs writers until stopped and collects their first error.
type group struct {
	stop chan struct{}
	errs chan error
	n    int
}

func newGroup() *group { return &group{stop: make(chan struct{}), errs: make(chan error, 16)} }

func (g *group) run(fn func(stop <-chan struct{}) error) {
	g.n++
	go func() { g.errs <- fn(g.stop) }()
}

func (g *group) halt() error {
	close(g.stop)
	var first error
	for i := 0; i < g.n; i++ {
		if err := <-g.errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (d *run) protocol(ctx context.Context) error {
	r := d.r
	d.say("1. expand to 1.0 on an empty database: the newest baseline, nothing older")
	if _, err := r.Expand(ctx, shop.V1); err != nil {
		return err
	}
	d.timeline(ctx)

	d.say("2. two 1.0 instances start; one seeds %d customers with a parcel each", d.o.Customers)
	var olds []*instance
	for i := 0; i < 2; i++ {
		in, err := d.startInstance(ctx, shop.V1, &shop.CustomerV1{}, &shop.ParcelV1{})
		if err != nil {
			return err
		}
		defer in.stop()
		olds = append(olds, in)
	}
	l := newLedger()
	var odd, even []uint
	for i := 0; i < d.o.Customers; i++ {
		g, f := givenNames[i%len(givenNames)], familyNames[(i/len(givenNames))%len(familyNames)]
		c := shop.CustomerV1{Name: g + " " + f, Email: fmt.Sprintf("c%d@shop.example", i)}
		if err := olds[0].db.Create(&c).Error; err != nil {
			return err
		}
		p := shop.ParcelV1{ID: c.ID, CustomerID: c.ID, WeightLb: 1 + i%50}
		if err := olds[0].db.Create(&p).Error; err != nil {
			return err
		}
		l.setName(c.ID, c.Name)
		l.setWeight(p.ID, weight{lb: p.WeightLb, by1_0: true})
		if c.ID%2 == 1 {
			odd = append(odd, c.ID)
		} else {
			even = append(even, c.ID)
		}
	}
	// Each writer owns its share of the rows, so the ledger knows the last
	// value (two writers of one row could record their writes in the other
	// order than the database took them).
	oldWriters := newGroup()
	for i, in := range olds {
		in, share := in, odd[i*len(odd)/len(olds):(i+1)*len(odd)/len(olds)]
		oldWriters.run(func(stop <-chan struct{}) error { return writer1(ctx, in.db, l, share, int64(i+1), stop) })
	}
	d.timeline(ctx)

	d.say("3. expand to 2.0 while the 1.0 instances keep writing")
	if _, err := r.Expand(ctx, shop.V2); err != nil {
		return err
	}
	d.timeline(ctx)

	d.say("4. two 2.0 instances join in L(m): they write both shapes and read 1.0's rows converted")
	newWriters := newGroup()
	var news []*instance
	for i := 0; i < 2; i++ {
		in, err := d.startInstance(ctx, shop.V2, &shop.CustomerV2{}, &shop.ParcelV2{})
		if err != nil {
			return err
		}
		defer in.stop()
		news = append(news, in)
	}
	// Each writer owns its share of the rows, so the ledger knows the last value.
	half := len(even) / 2
	newWriters.run(func(stop <-chan struct{}) error { return writer2(ctx, news[0].db, l, even[:half], 11, stop) })
	newWriters.run(func(stop <-chan struct{}) error { return writer2(ctx, news[1].db, l, even[half:], 12, stop) })
	time.Sleep(300 * time.Millisecond)
	d.timeline(ctx)

	d.say("5. migrate 2.0: backfill in batches while both releases write")
	if _, err := r.Migrate(ctx, shop.V2); err != nil {
		return err
	}
	d.timeline(ctx)

	d.say("6. try to set the ready-for-contract flag while 1.0 instances are live")
	err := r.SetState(ctx, shop.V2, versions.StateContractReady)
	var ref *migrations.FlagRefusal
	if !errors.As(err, &ref) {
		return fmt.Errorf("demo: the flag should have been refused, got %v", err)
	}
	d.say("   refused, as it should be (exit code %d):\n%s", migrations.ExitCode(err), indent(err.Error()))

	d.say("7. the 1.0 instances stop")
	if err := oldWriters.halt(); err != nil {
		return err
	}
	for _, in := range olds {
		in.stop()
	}
	d.timeline(ctx)

	d.say("8. set the flag: 2.0 switches to L(c) and hides the deprecated columns")
	if err := r.SetState(ctx, shop.V2, versions.StateContractReady); err != nil {
		return err
	}
	for _, in := range news {
		if err := waitMode(ctx, in.plugin, compat.ModeContract); err != nil {
			return err
		}
	}
	if err := d.waitAcknowledged(ctx); err != nil { // each heartbeat acknowledges L(c)
		return err
	}
	d.timeline(ctx)

	d.say("9. try to contract before the final migrate")
	if _, err := r.Contract(ctx, shop.V2); err == nil {
		d.say("   (nothing was stale: the contract ran)")
	} else if errors.Is(err, migrations.ErrGateRefused) {
		d.say("   refused, as it should be (exit code %d):\n%s", migrations.ExitCode(err), indent(err.Error()))
	} else {
		return err
	}

	d.say("10. final migrate: the rows 1.0 wrote before it stopped")
	if _, err := r.Migrate(ctx, shop.V2); err != nil {
		return err
	}
	cov, err := r.Coverage(ctx, shop.V2, migrations.CoverageOptions{})
	if err != nil {
		return err
	}
	for _, t := range cov.Tables {
		d.say("   coverage of %-9s %.1f%% of %d rows", t.Table, t.Percent, t.Rows)
	}

	d.say("11. contract 2.0 while the 2.0 instances keep writing")
	rep, err := r.Contract(ctx, shop.V2)
	if err != nil && !errors.Is(err, migrations.ErrGateRefused) {
		return err
	}
	if err != nil {
		return fmt.Errorf("demo: contract refused after the final migrate: %w", err)
	}
	d.say("   applied %s", strings.Join(rep.Applied, ", "))
	if err := newWriters.halt(); err != nil {
		return err
	}
	d.timeline(ctx)

	d.say("12. check every row against every value the writers wrote (%d writes)", l.writes.Load())
	bad, err := l.check(news[0].db)
	if err != nil {
		return err
	}
	for _, c := range []struct{ table, col string }{{"customers", "name"}, {"parcels", "weight_lb"}} {
		if hasColumn(d.db, c.table, c.col) {
			bad = append(bad, fmt.Sprintf("column %s.%s was not dropped", c.table, c.col))
		}
	}
	if archives, err := migrations.Archives(ctx, d.db); err == nil {
		for _, a := range archives {
			d.say("   archive %s holds %d row(s) of %s %v", a.Table, a.Rows, a.Source, a.Columns)
		}
	}
	if len(bad) > 0 {
		for i, b := range bad {
			if i == 10 {
				d.say("   ... and %d more", len(bad)-10)
				break
			}
			d.say("   WRONG: %s", b)
		}
		return fmt.Errorf("%w: %d row(s) differ", ErrCheckFailed, len(bad))
	}
	d.say("   every row holds the right values; nothing was lost. Done in %s.", time.Since(d.start).Round(10*time.Millisecond))
	events, _ := store.Events(ctx, d.db, 0)
	d.say("   (the journal holds %d events: 'tandem history' shows them)", len(events))
	return nil
}

// waitAcknowledged waits until every live 2.0 instance has reported, in
// its heartbeat, that it saw 2.0 contract-ready.
func (d *run) waitAcknowledged(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		insts, err := d.r.Instances(ctx)
		if err != nil {
			return err
		}
		done := true
		for _, in := range insts {
			if in.Live && !in.Acknowledged(shop.V2) {
				done = false
			}
		}
		if done {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: the 2.0 instances did not acknowledge 2.0(c) within 30s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func waitMode(ctx context.Context, p *compat.Plugin, m compat.Mode) error {
	deadline := time.Now().Add(10 * time.Second)
	for p.Mode() != m {
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: instance %s did not switch to %s", p.ID(), m)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.Changed():
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func indent(s string) string {
	return "           " + strings.ReplaceAll(s, "\n", "\n           ")
}

// hasColumn asks the catalog (GORM's HasColumn on SQLite matches
// "family_name" when asked for "name").
func hasColumn(db *gorm.DB, table, col string) bool {
	cts, err := db.Migrator().ColumnTypes(table)
	if err != nil {
		return false
	}
	for _, c := range cts {
		if c.Name() == col {
			return true
		}
	}
	return false
}
