//go:build unix

package compat_test

// Benchmarks of the plugin against plain GORM. They run only with -bench;
// `go run ./internal/bench` runs them and writes docs/BENCHMARKS.md.
//
// Each leaf, Benchmark<Op>/<dialect>/<model>/paired, measures both sides of
// a pair: plain GORM and GORM with the plugin, each on a fresh database with
// the same benchRows seeded rows, so the two do the same work apart from the
// plugin's, and their operations interleave (see benchEach). SQLite runs in
// memory, one connection, to isolate the CPU cost; PostgreSQL is the server
// of internal/dbtest and is skipped when unreachable. Every leaf reports,
// for each side, ns/op, cpu-ns/op (the process's CPU time per operation) and
// allocs/op. The file builds on unix only, for getrusage.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// benchRows is how many rows each benchmark database is seeded with, and
// how many rows BenchmarkFind100 loads.
const benchRows = 100

var benchV1, benchV2 = versions.MustParse("1.0"), versions.MustParse("2.0")

// benchItem is an unversioned model: no model.Stamp.
type benchItem struct {
	ID   uint `gorm:"primaryKey"`
	Text string
	Hits int
}

// benchStamped is stamped but changes nothing in 2.0: the plugin only
// stamps its writes.
type benchStamped struct {
	ID   uint `gorm:"primaryKey"`
	Text string
	Hits int
	model.Stamp
}

// benchPerson is release 2.0's view of bench_people, as CustomerV2: Name is
// split into GivenName and FamilyName.
type benchPerson struct {
	ID         uint   `gorm:"primaryKey"`
	Name       string `tandem:"deprecated=2.0"`
	GivenName  string `gorm:"size:100" tandem:"added=2.0"`
	FamilyName string `gorm:"size:100" tandem:"added=2.0"`
	Email      string
	model.Stamp
}

func (benchPerson) TableName() string { return "bench_people" }

// TandemUpgrade fills the 2.0 fields from Name for rows written by 1.x.
func (c *benchPerson) TandemUpgrade(from versions.Version) error {
	c.GivenName, c.FamilyName, _ = strings.Cut(c.Name, " ")
	return nil
}

// TandemDowngrade keeps Name right for 1.x instances.
func (c *benchPerson) TandemDowngrade() error {
	c.Name = strings.TrimSpace(c.GivenName + " " + c.FamilyName)
	return nil
}

// benchPersonDirect is benchPerson whose downgrade converter declares that
// it reads only the added fields (model.DowngradeFromAdded), so that an
// update of both added fields is written without reading the row. (It
// repeats benchPerson's fields: GORM does not see the fields of an
// embedded unexported struct.)
type benchPersonDirect struct {
	ID         uint   `gorm:"primaryKey"`
	Name       string `tandem:"deprecated=2.0"`
	GivenName  string `gorm:"size:100" tandem:"added=2.0"`
	FamilyName string `gorm:"size:100" tandem:"added=2.0"`
	Email      string
	model.Stamp
}

func (benchPersonDirect) TableName() string { return "bench_people" }

func (c *benchPersonDirect) TandemUpgrade(from versions.Version) error {
	c.GivenName, c.FamilyName, _ = strings.Cut(c.Name, " ")
	return nil
}

func (c *benchPersonDirect) TandemDowngrade() error {
	c.Name = strings.TrimSpace(c.GivenName + " " + c.FamilyName)
	return nil
}

func (*benchPersonDirect) TandemDowngradeFromAdded() {}

// benchPersonV1 is release 1.0's view of bench_people, used to seed rows
// stamped 1.0 so that 2.0(m) reads run the upgrade converter.
type benchPersonV1 struct {
	ID    uint `gorm:"primaryKey"`
	Name  string
	Email string
	model.Stamp
}

func (benchPersonV1) TableName() string { return "bench_people" }

// benchNames are the values writes cycle through, made up front so that
// building them is not timed. An update of the row at ids[j] always writes
// the j-th values (and Hits stays below 128), so rows keep their size after
// the first pass; SQLite rewrites a row whose size changes at several times
// the cost, which would only blur the comparison.
var benchNames = func() []string {
	s := make([]string, benchRows)
	for i := range s {
		s[i] = "name" + strconv.Itoa(i)
	}
	return s
}()

// benchKind is one model the benchmarks run on and what each operation does
// with it.
type benchKind struct {
	name   string
	table  any                    // created by AutoMigrate
	seed   func(g *gorm.DB) error // writes benchRows rows, without the plugin
	states map[versions.Version]versions.State
	opts   []compat.Option
	create func(g *gorm.DB, i int) error
	first  func(g *gorm.DB, id uint) error
	find   func(g *gorm.DB) (int, error)
	update func(g *gorm.DB, id uint, i int) error
	// check, if set, verifies before timing that the database behaves as
	// the benchmark claims (e.g. that reads really run the converter).
	check func(g *gorm.DB, withPlugin bool) error
	// control, if set, leaves the plugin out of both sides: the pair then
	// measures the method's own error (see benchControl).
	control bool
}

func benchKinds() []benchKind {
	return []benchKind{benchUnversioned(), benchStampedKind(), benchConverters(), benchControl()}
}

// benchControl is the unversioned model with the plugin on neither side: a
// control, with no target, whose overhead would be zero if the pairing had
// no error of its own, so that it shows how far a pair of identical sides
// lands from zero (a bias of one side's position, the scatter of single
// rounds) on the machine and in the hour of the run.
func benchControl() benchKind {
	k := benchUnversioned()
	k.name, k.control = "control", true
	return k
}

// benchUpdateKinds adds, for Updates, a converters model updated on a
// column that is not transitional (the plugin leaves such updates alone).
func benchUpdateKinds() []benchKind {
	k := benchConverters()
	k.name = "converters-email"
	k.update = func(g *gorm.DB, id uint, i int) error {
		return g.Model(&benchPerson{ID: id}).Updates(benchPerson{Email: benchNames[i%benchRows]}).Error
	}
	// The usual GORM pattern: update a model the service loaded. The plugin
	// then compares and sets instead of reading the row again.
	l := benchConverters()
	l.name = "converters-loaded"
	loaded := map[*gorm.DB]map[uint]*benchPerson{}
	var mu sync.Mutex
	l.update = func(g *gorm.DB, id uint, i int) error {
		mu.Lock()
		m := loaded[g]
		if m == nil {
			m = map[uint]*benchPerson{}
			loaded[g] = m
		}
		p := m[id]
		mu.Unlock()
		if p == nil {
			p = &benchPerson{}
			if err := g.First(p, id).Error; err != nil {
				return err
			}
			mu.Lock()
			m[id] = p
			mu.Unlock()
		}
		return g.Model(p).Updates(benchPerson{GivenName: "Grace", FamilyName: benchNames[i%benchRows]}).Error
	}
	// The same update of a model that implements model.DowngradeFromAdded:
	// one UPDATE, no read of the row.
	dk := benchConverters()
	dk.name = "converters-direct"
	dk.table = &benchPersonDirect{}
	dk.opts = []compat.Option{compat.WithModels(&benchPersonDirect{})}
	dk.check = nil
	dk.update = func(g *gorm.DB, id uint, i int) error {
		return g.Model(&benchPersonDirect{ID: id}).Updates(benchPersonDirect{GivenName: "Grace", FamilyName: benchNames[i%benchRows]}).Error
	}
	// A reference, not a target: the plain side writes obj_version itself
	// (the value the plugin writes), so both sides pay for its index and
	// the overhead left is the plugin's own.
	e := benchStampedKind()
	e.name = "stamped-explicit"
	e.update = func(g *gorm.DB, id uint, i int) error {
		return g.Model(&benchStamped{ID: id}).Updates(map[string]any{"text": benchNames[i%benchRows], "hits": i%benchRows + 1, "obj_version": benchV2.Stamp()}).Error
	}
	// A reference, not a target: the plugin side is converters-direct's
	// update; the plain side writes by hand, in one UPDATE, the same four
	// columns (the added fields, Name as the converter derives it, and the
	// stamp), as a service without tandem would have to for its previous
	// release. What is left is the plugin's own cost, not the dual write's.
	x := benchConverters()
	x.name = "dualwrite-explicit"
	x.table = &benchPersonDirect{}
	x.opts = dk.opts
	x.check = nil
	x.update = func(g *gorm.DB, id uint, i int) error {
		if len(g.Config.Plugins) == 0 {
			return g.Model(&benchPersonDirect{ID: id}).Updates(map[string]any{"given_name": "Grace", "family_name": benchNames[i%benchRows],
				"name": benchGraceNames[i%benchRows], "obj_version": benchV2.Stamp()}).Error
		}
		return dk.update(g, id, i)
	}
	// A reference, not a target: the plugin side is converters' update,
	// which reads the row; the plain side does by hand what the plugin
	// does, in one transaction: it reads the row (locked, on PostgreSQL),
	// derives Name as the downgrade converter would, and writes the three
	// columns. What is left is the plugin's own cost, not the second
	// statement's.
	r := benchConverters()
	r.name = "rmw-explicit"
	conv := r.update
	r.update = func(g *gorm.DB, id uint, i int) error {
		if len(g.Config.Plugins) > 0 {
			return conv(g, id, i)
		}
		return g.Transaction(func(tx *gorm.DB) error {
			var p benchPerson
			q := tx
			if tx.Dialector.Name() == "postgres" {
				q = tx.Clauses(clause.Locking{Strength: "UPDATE"})
			}
			if err := q.Take(&p, id).Error; err != nil {
				return err
			}
			p.GivenName, p.FamilyName = "Grace", benchNames[i%benchRows]
			if err := p.TandemDowngrade(); err != nil {
				return err
			}
			return tx.Model(&benchPerson{ID: id}).Updates(map[string]any{"name": p.Name, "given_name": p.GivenName, "family_name": p.FamilyName}).Error
		})
	}
	return append(benchKinds(), k, l, dk, e, x, r)
}

// benchGraceNames are the Names the downgrade converter derives from the
// updates' GivenName "Grace" and benchNames, for dualwrite-explicit.
var benchGraceNames = func() []string {
	s := make([]string, benchRows)
	for i := range s {
		s[i] = "Grace " + benchNames[i]
	}
	return s
}()

func benchUnversioned() benchKind {
	return benchKind{
		name:  "unversioned",
		table: &benchItem{},
		seed: func(g *gorm.DB) error {
			rows := make([]benchItem, benchRows)
			for i := range rows {
				rows[i] = benchItem{Text: benchNames[i], Hits: i}
			}
			return g.CreateInBatches(&rows, 50).Error
		},
		states: map[versions.Version]versions.State{benchV2: versions.StateExpanded},
		create: func(g *gorm.DB, i int) error {
			return g.Create(&benchItem{Text: benchNames[i%benchRows], Hits: i % benchRows}).Error
		},
		first: func(g *gorm.DB, id uint) error { var r benchItem; return g.First(&r, id).Error },
		find: func(g *gorm.DB) (int, error) {
			var rs []benchItem
			err := g.Find(&rs).Error
			return len(rs), err
		},
		update: func(g *gorm.DB, id uint, i int) error {
			return g.Model(&benchItem{ID: id}).Updates(benchItem{Text: benchNames[i%benchRows], Hits: i%benchRows + 1}).Error
		},
	}
}

func benchStampedKind() benchKind {
	return benchKind{
		name:  "stamped",
		table: &benchStamped{},
		seed: func(g *gorm.DB) error {
			rows := make([]benchStamped, benchRows)
			for i := range rows {
				rows[i] = benchStamped{Text: benchNames[i], Hits: i}
			}
			return g.CreateInBatches(&rows, 50).Error
		},
		states: map[versions.Version]versions.State{benchV2: versions.StateExpanded},
		create: func(g *gorm.DB, i int) error {
			return g.Create(&benchStamped{Text: benchNames[i%benchRows], Hits: i % benchRows}).Error
		},
		first: func(g *gorm.DB, id uint) error { var r benchStamped; return g.First(&r, id).Error },
		find: func(g *gorm.DB) (int, error) {
			var rs []benchStamped
			err := g.Find(&rs).Error
			return len(rs), err
		},
		update: func(g *gorm.DB, id uint, i int) error {
			return g.Model(&benchStamped{ID: id}).Updates(benchStamped{Text: benchNames[i%benchRows], Hits: i%benchRows + 1}).Error
		},
	}
}

// benchConverters is the 2.0 model in 2.0(m) over rows stamped 1.0: reads
// run the upgrade converter, writes the downgrade converter, and Updates of
// the added fields take the plugin's read-modify-write path.
func benchConverters() benchKind {
	return benchKind{
		name:  "converters",
		table: &benchPerson{},
		seed: func(g *gorm.DB) error {
			rows := make([]benchPersonV1, benchRows)
			for i := range rows {
				rows[i] = benchPersonV1{Name: "Ada " + benchNames[i], Email: benchNames[i] + "@example.com",
					Stamp: model.Stamp{ObjVersion: benchV1.Stamp()}}
			}
			return g.CreateInBatches(&rows, 50).Error
		},
		states: map[versions.Version]versions.State{benchV1: versions.StateContracted, benchV2: versions.StateExpanded},
		opts:   []compat.Option{compat.WithModels(&benchPerson{})},
		create: func(g *gorm.DB, i int) error {
			return g.Create(&benchPerson{GivenName: "Ada", FamilyName: benchNames[i%benchRows], Email: "ada@example.com"}).Error
		},
		first: func(g *gorm.DB, id uint) error { var r benchPerson; return g.First(&r, id).Error },
		find: func(g *gorm.DB) (int, error) {
			var rs []benchPerson
			err := g.Find(&rs).Error
			return len(rs), err
		},
		update: func(g *gorm.DB, id uint, i int) error {
			return g.Model(&benchPerson{ID: id}).Updates(benchPerson{GivenName: "Grace", FamilyName: benchNames[i%benchRows]}).Error
		},
		check: func(g *gorm.DB, withPlugin bool) error {
			var r benchPerson
			if err := g.Order("id").First(&r).Error; err != nil {
				return err
			}
			if want := map[bool]string{true: "Ada", false: ""}[withPlugin]; r.GivenName != want || r.ObjVersion != benchV1.Stamp() {
				return fmt.Errorf("read %+v, want GivenName %q from a row stamped %s", r, want, benchV1)
			}
			return nil
		},
	}
}

// benchDialects are the dialects the benchmarks run on.
var benchDialects = []dialect.Name{dialect.SQLite, dialect.Postgres}

// benchEach runs fn as Benchmark.../<dialect>/<kind>/paired. Each leaf opens
// two fresh databases seeded alike, one used without the plugin (plain) and
// one with it (plugin), and every iteration runs the operation once on each
// (on SQLite benchSQLiteReps times in a row), in turn, the side that goes
// first alternating, and, at the start of each block, alternating from
// block to block too (see benchRenewConns). Each side's operations are
// timed on their own, so the two sides share every moment of the machine's
// load instead of running seconds apart. The leaf reports, per side,
// plain-ns/op and plugin-ns/op, plain-cpu-ns/op and plugin-cpu-ns/op (the
// process's CPU time during the side's operations), each the median of the
// means of blocks of benchBlock iterations (benchServerBlock against a
// server), so that one stall of the
// machine does not set them, and plain-allocs/op and plugin-allocs/op
// (counted after the timed loop, one side at a time).
func benchEach(b *testing.B, kinds []benchKind, fn func(k benchKind, g *gorm.DB, ids []uint, i int) error) {
	for _, d := range benchDialects {
		b.Run(string(d), func(b *testing.B) {
			dbtest.Require(b, d)
			for _, k := range kinds {
				b.Run(k.name, func(b *testing.B) {
					b.Run("paired", func(b *testing.B) { benchPaired(b, d, k, fn) })
				})
			}
		})
	}
}

// benchSide is one side of a paired benchmark and what its operations took.
type benchSide struct {
	name        string // "plain" or "plugin"
	g           *gorm.DB
	ids         []uint
	wall        time.Duration // in the current block
	cpu         int64         // in the current block
	wallPerOp   []float64     // mean ns per operation of each block
	cpuPerOp    []float64
	blockOps    int
	allocs      float64
	allocCursor int // the next operation's index in the allocation count
}

// endBlock records the block's means and starts a new block.
func (s *benchSide) endBlock() {
	if s.blockOps == 0 {
		return
	}
	s.wallPerOp = append(s.wallPerOp, float64(s.wall.Nanoseconds())/float64(s.blockOps))
	s.cpuPerOp = append(s.cpuPerOp, float64(s.cpu)/float64(s.blockOps))
	s.wall, s.cpu, s.blockOps = 0, 0, 0
}

// benchBlock is how many iterations of a paired benchmark make one block
// on SQLite; each side's figures are the median of its blocks' means.
const benchBlock = 50

// benchServerBlock is the block against a server, where each block starts
// on new connections (benchRenewConns): a connection's luck (see there)
// sets a whole block, so the more blocks, the less one lucky or unlucky
// connection moves a side's median. With 20 blocks of 50 the control
// case's single rounds of First on PostgreSQL scattered by about 7% either
// way; with 100 blocks of 10, by about 4%.
const benchServerBlock = 10

// benchSQLiteReps is how many operations in a row a side of a SQLite
// benchmark runs per iteration: a SQLite update takes some 10 µs, and a
// block of 50 single operations (half a millisecond) is short enough for
// one garbage collection or one preemption to move its mean.
const benchSQLiteReps = 10

// benchAllocRuns is how many operations per side the allocation count runs.
const benchAllocRuns = 500

func benchPaired(b *testing.B, d dialect.Name, k benchKind, fn func(k benchKind, g *gorm.DB, ids []uint, i int) error) {
	plain, ids := benchDB(b, d, k, false)
	plugin, pids := benchDB(b, d, k, !k.control)
	sides := [2]*benchSide{{name: "plain", g: plain, ids: ids}, {name: "plugin", g: plugin, ids: pids}}
	i := 0
	reps, blk := 1, benchServerBlock
	if d == dialect.SQLite {
		reps, blk = benchSQLiteReps, benchBlock
	}
	for b.Loop() {
		for j := range sides {
			s := sides[(i+j+i/blk)%2]
			c0 := benchCPU()
			t0 := time.Now()
			var err error
			for r := 0; r < reps && err == nil; r++ {
				err = fn(k, s.g, s.ids, i*reps+r)
			}
			s.wall += time.Since(t0)
			s.cpu += benchCPU() - c0
			s.blockOps += reps
			if err != nil {
				b.Fatalf("%s: %v", s.name, err)
			}
		}
		i++
		if i%blk == 0 {
			sides[0].endBlock()
			sides[1].endBlock()
			if d != dialect.SQLite {
				order := [2]*benchSide{sides[(i/blk)%2], sides[(i/blk+1)%2]}
				if err := benchRenewConns(order, func(s *benchSide) error { return fn(k, s.g, s.ids, i*reps) }); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	if i == 0 {
		return
	}
	for _, s := range sides {
		if len(s.wallPerOp) == 0 { // fewer iterations than a block
			s.endBlock()
		}
		var err error
		s.allocCursor = i * reps
		s.allocs = testing.AllocsPerRun(benchAllocRuns, func() {
			if e := fn(k, s.g, s.ids, s.allocCursor); e != nil && err == nil {
				err = e
			}
			s.allocCursor++
		})
		if err != nil {
			b.Fatalf("%s, counting allocations: %v", s.name, err)
		}
		b.ReportMetric(benchMedian(s.wallPerOp), s.name+"-ns/op")
		b.ReportMetric(benchMedian(s.cpuPerOp), s.name+"-cpu-ns/op")
		b.ReportMetric(s.allocs, s.name+"-allocs/op")
	}
}

// benchRenewConns closes the idle connections of both sides to the
// server, so that the next block runs on new ones, and then warms the new
// ones up with op, untimed, twice on each side in turn (the driver prepares
// each statement once per connection). A server process stays on the core
// the scheduler first gave it, and on a machine of two cores a
// connection's round trips were seen to stay some 50% faster or slower
// than another's for as long as it lived: a side held by one connection for
// a whole round would carry that luck into every block. sides is in the
// order the connections open in, which the caller alternates from block to
// block: while the plain side always opened first, the control case (two
// sides without the plugin) came out 3% to 9% faster on the second side on
// PostgreSQL, a bias in the plugin's favour.
func benchRenewConns(sides [2]*benchSide, op func(s *benchSide) error) error {
	for _, s := range sides {
		sqlDB, err := s.g.DB()
		if err != nil {
			return fmt.Errorf("%s, renewing its connection: %w", s.name, err)
		}
		sqlDB.SetMaxIdleConns(0)
		sqlDB.SetMaxIdleConns(benchIdleConns)
	}
	for range 2 {
		for _, s := range sides {
			if err := op(s); err != nil {
				return fmt.Errorf("%s, warming its new connection: %w", s.name, err)
			}
		}
	}
	return nil
}

// benchIdleConns is the idle pool of a server side, as internal/dbtest
// sets it.
const benchIdleConns = 2

// benchMedian returns the median of vs, which is not empty.
func benchMedian(vs []float64) float64 {
	vs = slices.Clone(vs)
	slices.Sort(vs)
	m := len(vs) / 2
	if len(vs)%2 == 0 {
		return (vs[m-1] + vs[m]) / 2
	}
	return vs[m]
}

// benchDB opens a fresh database of dialect d, creates and seeds k's table,
// and installs the plugin of 2.0 when asked, after setting the release
// states as `tandem expand` would (the same setup as plugged).
func benchDB(b *testing.B, d dialect.Name, k benchKind, withPlugin bool) (*gorm.DB, []uint) {
	b.Helper()
	ctx := context.Background()
	var g *gorm.DB
	if d == dialect.SQLite {
		g = benchMemory(b)
	} else {
		g = dbtest.New(b, d).Gorm
	}
	if err := g.AutoMigrate(k.table); err != nil {
		b.Fatal(err)
	}
	if err := k.seed(g); err != nil {
		b.Fatalf("seed %s: %v", k.name, err)
	}
	var ids []uint
	if err := g.Model(k.table).Order("id").Pluck("id", &ids).Error; err != nil || len(ids) != benchRows {
		b.Fatalf("seeded %d rows of %s (%v), want %d", len(ids), k.name, err, benchRows)
	}
	if withPlugin {
		if err := store.Ensure(ctx, g); err != nil {
			b.Fatal(err)
		}
		for _, r := range []versions.Version{benchV1, benchV2} {
			if s, ok := k.states[r]; ok {
				if err := store.ForceState(ctx, g, r, s, "benchmark setup"); err != nil {
					b.Fatal(err)
				}
			}
		}
		p := compat.New(benchV2, k.opts...)
		if err := g.Use(p); err != nil {
			b.Fatalf("Use(compat %s): %v", benchV2, err)
		}
		b.Cleanup(func() { _ = p.Close() })
		if p.Mode() != compat.ModeDual {
			b.Fatalf("plugin runs in %s, want %s", p.Mode(), compat.ModeDual)
		}
	}
	if k.check != nil {
		if err := k.check(g, withPlugin); err != nil {
			b.Fatalf("%s: %v", k.name, err)
		}
	}
	return g, ids
}

// benchCPU returns the CPU time the process has used (user and system,
// every thread, so the plugin's background work and the garbage collector
// count), in nanoseconds. Unlike ns/op it leaves out the time spent waiting
// for a core, which helps on a loaded machine.
func benchCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// benchMemory opens a private in-memory SQLite database (one connection,
// held open until cleanup).
func benchMemory(b *testing.B) *gorm.DB {
	b.Helper()
	t, err := dialect.ParseDSN("sqlite::memory:")
	if err != nil {
		b.Fatal(err)
	}
	g, err := dialect.Open(context.Background(), t, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		b.Fatal(err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sqlDB.Close() })
	return g
}

func BenchmarkCreate(b *testing.B) {
	benchEach(b, benchKinds(), func(k benchKind, g *gorm.DB, _ []uint, i int) error {
		return k.create(g, i)
	})
}

func BenchmarkFirst(b *testing.B) {
	benchEach(b, benchKinds(), func(k benchKind, g *gorm.DB, ids []uint, i int) error {
		return k.first(g, ids[i%len(ids)])
	})
}

func BenchmarkFind100(b *testing.B) {
	benchEach(b, benchKinds(), func(k benchKind, g *gorm.DB, _ []uint, _ int) error {
		n, err := k.find(g)
		if err == nil && n != benchRows {
			err = fmt.Errorf("find loaded %d rows, want %d", n, benchRows)
		}
		return err
	})
}

func BenchmarkUpdates(b *testing.B) {
	benchEach(b, benchUpdateKinds(), func(k benchKind, g *gorm.DB, ids []uint, i int) error {
		return k.update(g, ids[i%len(ids)], i)
	})
}
