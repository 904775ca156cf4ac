package compat_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

// liveInstances counts the registered instances of a release.
func liveInstances(t *testing.T, db *dbtest.DB, rel versions.Version) int {
	t.Helper()
	insts, err := store.Instances(context.Background(), db.Gorm)
	must(t, err)
	n := 0
	for _, in := range insts {
		if in.Release == rel.String() {
			n++
		}
	}
	return n
}

// TestStartWaitEndsWithContext: WithStartTimeout waits for the expand, but
// no longer than the context Initialize runs under (db.WithContext(ctx)).
func TestStartWaitEndsWithContext(t *testing.T) {
	db := dbtest.New(t, dialect.SQLite)
	ctx := context.Background()
	must(t, store.Ensure(ctx, db.Gorm))
	must(t, store.ForceState(ctx, db.Gorm, v1, versions.StateContracted, "setup"))
	p := compat.New(v2, compat.WithModels(&CustomerV2{}), compat.WithStartTimeout(10*time.Second), compat.WithPollInterval(20*time.Millisecond))
	cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := db.Open(t).WithContext(cctx).Use(p)
	el := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Initialize with a context of 200ms before the expand: %v, want context.DeadlineExceeded", err)
	}
	if el > 5*time.Second {
		t.Errorf("Initialize returned after %s; its context ended after 200ms (the start timeout is 10s)", el.Round(time.Millisecond))
	}
	if n := liveInstances(t, db, v2); n != 0 {
		t.Errorf("%d instance(s) of 2.0 registered after a refused start", n)
	}
}

// TestClosedPluginRefuses: after Close the instance is out of the registry
// and no longer follows the flag, so statements on versioned models fail
// with ErrClosed before any SQL, while unversioned models work as before.
func TestClosedPluginRefuses(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		v2ExpandedOverV1(t, db)
		db.Gorm.Config.DisableForeignKeyConstraintWhenMigrating = true
		must(t, db.Gorm.AutoMigrate(&Order{}))
		g, p := plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithoutListen())
		ada := CustomerV2{GivenName: "Ada", FamilyName: "Lovelace", Email: "ada@example.com"}
		must(t, g.Create(&ada).Error)
		must(t, p.Close())
		if n := liveInstances(t, db, v2); n != 0 {
			t.Fatalf("%d instance(s) of 2.0 registered after Close", n)
		}
		var cs []CustomerV2
		for what, err := range map[string]error{
			"Create":  g.Create(&CustomerV2{GivenName: "Grace", FamilyName: "Hopper"}).Error,
			"Find":    g.Find(&cs).Error,
			"Scan":    g.Model(&CustomerV2{}).Where("id = ?", ada.ID).Scan(&cs).Error,
			"Updates": g.Model(&CustomerV2{ID: ada.ID}).Updates(CustomerV2{FamilyName: "Byron"}).Error,
			"Delete":  g.Delete(&CustomerV2{ID: ada.ID}).Error,
		} {
			if !errors.Is(err, compat.ErrClosed) {
				t.Errorf("%s through a closed plugin: %v, want compat.ErrClosed", what, err)
			}
		}
		r := raw(t, db, ada.ID)
		if str(r.FamilyName) != "Lovelace" || str(r.Name) != "Ada Lovelace" {
			t.Errorf("Ada's row after the refused statements: %+v", r)
		}
		if n := db.QueryInt(t, "SELECT COUNT(*) FROM customers"); n != 1 {
			t.Errorf("%d customers after a refused Create, want 1", n)
		}
		o := Order{Label: "o1"}
		if err := g.Create(&o).Error; err != nil {
			t.Errorf("Create of an unversioned model through a closed plugin: %v", err)
		}
		var got Order
		if err := g.First(&got, o.ID).Error; err != nil || got.Label != "o1" {
			t.Errorf("First of an unversioned model through a closed plugin: %+v, %v", got, err)
		}
	})
}

// TestStartRechecksAfterRegistering: a flag set between the start-up
// guard's read and the instance's registration sees no instance; the plugin
// reads the states again once registered, so an older binary is refused
// (ErrTooOld, its row removed) and a binary of the flagged release starts
// in L(c), not L(m).
func TestStartRechecksAfterRegistering(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		// flagOnRegister sets 2.0 contract-ready just before g's first
		// write to the instance registry.
		flagOnRegister := func(g *gorm.DB) {
			var once sync.Once
			must(t, g.Callback().Create().Before("gorm:begin_transaction").Register("test:flag_on_register", func(tx *gorm.DB) {
				if tx.Statement.Table == store.InstancesTable {
					once.Do(func() {
						must(t, store.Transition(context.Background(), db.Gorm, v2, versions.StateContractReady, "test"))
					})
				}
			}))
		}
		v2ExpandedOverV1(t, db)
		g := db.Open(t)
		flagOnRegister(g)
		old := compat.New(v1, compat.WithModels(&CustomerV1{}), compat.WithoutListen())
		err := g.Use(old)
		if !errors.Is(err, compat.ErrTooOld) {
			_ = old.Close()
			t.Fatalf("1.0 started while 2.0 was flagged during its registration: %v, want ErrTooOld", err)
		}
		if n := liveInstances(t, db, v1); n != 0 {
			t.Errorf("%d instance(s) of 1.0 left registered after the refusal", n)
		}

		must(t, store.Transition(context.Background(), db.Gorm, v2, versions.StateExpanded, "test"))
		g2 := db.Open(t)
		flagOnRegister(g2)
		cur := compat.New(v2, compat.WithModels(&CustomerV2{}), compat.WithoutListen(), compat.WithPollInterval(time.Hour))
		must(t, g2.Use(cur))
		t.Cleanup(func() { _ = cur.Close() })
		if cur.Mode() != compat.ModeContract {
			t.Errorf("2.0 flagged during its registration starts in %s, want %s", cur.Mode(), compat.ModeContract)
		}
		insts, err := store.Instances(context.Background(), db.Gorm)
		must(t, err)
		for _, in := range insts {
			if in.ID == cur.ID() && in.SeenState != string(versions.StateContractReady) {
				t.Errorf("2.0's registry row acknowledges %q, want %q", in.SeenState, versions.StateContractReady)
			}
		}
	})
}

// TestSimultaneousOddBuildIsRefused: a build of 2.0 that declares
// customers differently starts while another 2.0 instance is between
// recording its models and its first heartbeat: it sees no live instance
// of 2.0 and replaces the record. The first instance records its models
// again once registered, so the conflict is recorded and it is refused.
func TestSimultaneousOddBuildIsRefused(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		v2ExpandedOverV1(t, db)
		g := db.Open(t)
		var once sync.Once
		var odd *compat.Plugin
		must(t, g.Callback().Create().Before("gorm:begin_transaction").Register("test:odd_build", func(tx *gorm.DB) {
			if tx.Statement.Table == store.InstancesTable {
				once.Do(func() {
					odd = compat.New(v2, compat.WithModels(&CustomerV2Odd{}), compat.WithoutListen())
					must(t, db.Open(t).Use(odd))
					t.Cleanup(func() { _ = odd.Close() })
				})
			}
		}))
		p := compat.New(v2, compat.WithModels(&CustomerV2{}), compat.WithoutListen())
		err := g.Use(p)
		var ce *store.ConflictError
		if !errors.As(err, &ce) {
			_ = p.Close()
			t.Fatalf("2.0 whose record an odd build replaced during its start: %v, want *store.ConflictError", err)
		}
		models, err := store.Models(context.Background(), db.Gorm)
		must(t, err)
		var conflict string
		for _, m := range models {
			if m.Release == v2.String() && m.Table == "customers" {
				conflict = m.Conflict
			}
		}
		if conflict == "" {
			t.Errorf("no conflict recorded for 2.0's customers: %+v", models)
		}
		if n := liveInstances(t, db, v2); n != 1 {
			t.Errorf("%d live instance(s) of 2.0, want 1 (the odd build; the refused one removed its row)", n)
		}
	})
}
