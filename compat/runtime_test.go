package compat_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
	"gorm.io/gorm"
)

// CustomerV3 adds a field in 3.0.
type CustomerV3 struct {
	ID       uint   `gorm:"primaryKey"`
	Nickname string `tandem:"added=3.0"`
	model.Stamp
}

func (CustomerV3) TableName() string { return "customers" }

func TestStartupGuard(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		must(t, store.Ensure(ctx, db.Gorm))
		must(t, store.ForceState(ctx, db.Gorm, v1, versions.StateContracted, "setup"))
		must(t, store.ForceState(ctx, db.Gorm, v2, versions.StateExpanded, "setup"))

		t.Run("a contracted release runs in L(c)", func(t *testing.T) { // before 3.0 is expanding, which keeps 1.0 out
			_, p := plugged(t, db, versions.MustParse("1.0"))
			if p.Mode() != compat.ModeContract {
				t.Errorf("1.0 (contracted) runs in %s", p.Mode())
			}
		})

		t.Run("expand not applied", func(t *testing.T) {
			err := db.Open(t).Use(compat.New(versions.MustParse("3.0"), compat.WithModels(&CustomerV3{})))
			var ge *compat.GuardError
			if !errors.As(err, &ge) || !errors.Is(err, compat.ErrExpandNotApplied) || ge.State != versions.StatePending {
				t.Fatalf("Initialize = %v", err)
			}
			if !strings.Contains(err.Error(), "tandem expand --release 3.0") {
				t.Errorf("no hint: %v", err)
			}
			must(t, store.ForceState(ctx, db.Gorm, versions.MustParse("3.0"), versions.StateExpanding, "setup"))
			err = db.Open(t).Use(compat.New(versions.MustParse("3.0"), compat.WithModels(&CustomerV3{})))
			if !errors.As(err, &ge) || ge.State != versions.StateExpanding {
				t.Errorf("Initialize while expanding = %v", err)
			}
			insts, _ := store.Instances(ctx, db.Gorm)
			if len(insts) != 0 {
				t.Errorf("a refused instance registered: %+v", insts)
			}
		})

		t.Run("waits for the expand", func(t *testing.T) {
			r := versions.MustParse("3.0")
			p := compat.New(r, compat.WithModels(&CustomerV3{}), compat.WithStartTimeout(30*time.Second), compat.WithPollInterval(20*time.Millisecond))
			var logged sync.WaitGroup
			logged.Add(1)
			var once sync.Once
			p = compat.New(r, compat.WithModels(&CustomerV3{}), compat.WithStartTimeout(30*time.Second), compat.WithPollInterval(20*time.Millisecond),
				compat.WithLogf(func(f string, a ...any) {
					if strings.Contains(f, "waits") {
						once.Do(logged.Done)
					}
				}))
			g := db.Open(t)
			done := make(chan error, 1)
			go func() { done <- g.Use(p) }()
			logged.Wait() // it is waiting, and said so
			must(t, store.Transition(ctx, db.Gorm, r, versions.StateExpanded, "test"))
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Initialize after the expand: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Initialize did not return")
			}
			t.Cleanup(func() { _ = p.Close() })
			if p.Mode() != compat.ModeDual {
				t.Errorf("mode %s", p.Mode())
			}
		})

		t.Run("too old", func(t *testing.T) {
			must(t, store.Transition(ctx, db.Gorm, v2, versions.StateContractReady, "test"))
			t.Cleanup(func() { must(t, store.Transition(ctx, db.Gorm, v2, versions.StateExpanded, "test")) })
			err := db.Open(t).Use(compat.New(v1))
			var ge *compat.GuardError
			if !errors.As(err, &ge) || !errors.Is(err, compat.ErrTooOld) || ge.Other != v2 {
				t.Fatalf("Initialize of 1.0 = %v", err)
			}
			if !strings.Contains(err.Error(), "too old") {
				t.Errorf("message: %v", err)
			}
		})

		t.Run("a patch release without schema changes starts", func(t *testing.T) {
			err := db.Open(t).Use(compat.New(versions.MustParse("2.0.1")))
			if err != nil {
				t.Errorf("2.0.1 without schema changes: %v", err)
			}
		})

		// 3.0 is expanded now, 2.0 still in L(m): 3.0's instances do not
		// write the columns 2.0 deprecates, which 1.0 reads.
		t.Run("two releases ahead", func(t *testing.T) {
			err := db.Open(t).Use(compat.New(v1))
			var ge *compat.GuardError
			if !errors.As(err, &ge) || !errors.Is(err, compat.ErrTooOld) || ge.Other != versions.MustParse("3.0") || ge.Next != v2 {
				t.Fatalf("Initialize of 1.0 with 3.0 expanded = %v", err)
			}
			if !strings.Contains(err.Error(), "deploy release 2.0 or later") {
				t.Errorf("message: %v", err)
			}
			_, p2 := plugged(t, db, v2)
			if p2.Mode() != compat.ModeDual {
				t.Errorf("2.0 with 3.0 expanded runs in %s", p2.Mode())
			}
		})
	})
}

func TestInstanceRegistry(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		_, p := plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithHeartbeat(50*time.Millisecond, time.Second), compat.WithPollInterval(50*time.Millisecond))
		insts, err := store.Instances(ctx, db.Gorm)
		must(t, err)
		if len(insts) != 1 || insts[0].ID != p.ID() || insts[0].Release != "2.0" || insts[0].SeenState != "expanded" || insts[0].Mode != "L(m)" || !insts[0].Live(store.Now()) {
			t.Fatalf("instances = %+v", insts)
		}
		first := insts[0].HeartbeatAt
		// The flip is acknowledged in the heartbeat.
		setTo(t, db, p, v2, versions.StateContractReady)
		deadline := time.Now().Add(20 * time.Second)
		for {
			insts, err = store.Instances(ctx, db.Gorm)
			must(t, err)
			if len(insts) == 1 && insts[0].Acknowledged(v2) && insts[0].HeartbeatAt.After(first) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no acknowledgement: %+v", insts)
			}
			time.Sleep(20 * time.Millisecond)
		}
		models, err := store.Models(ctx, db.Gorm)
		must(t, err)
		if len(models) != 1 || models[0].Table != "customers" || !strings.Contains(models[0].Spec, `"deprecated":"2.0"`) || models[0].Conflict != "" {
			t.Errorf("model registry = %+v", models)
		}
		must(t, p.Close())
		insts, err = store.Instances(ctx, db.Gorm)
		must(t, err)
		if len(insts) != 0 {
			t.Errorf("instance left after Close: %+v", insts)
		}
	})
}

// CustomerV2Odd declares the same table differently in the same release.
type CustomerV2Odd struct {
	ID        uint   `gorm:"primaryKey"`
	GivenName string `tandem:"added=2.0"`
	model.Stamp
}

func (CustomerV2Odd) TableName() string { return "customers" }

func TestConflictingModelSpecs(t *testing.T) {
	db := dbtest.New(t, dialect.SQLite)
	plugged(t, db, v2, compat.WithModels(&CustomerV2{}))
	err := db.Open(t).Use(compat.New(v2, compat.WithModels(&CustomerV2Odd{})))
	var ce *store.ConflictError
	if !errors.As(err, &ce) || ce.Table != "customers" {
		t.Fatalf("second instance with another spec: %v", err)
	}
	models, _ := store.Models(context.Background(), db.Gorm)
	if len(models) != 1 || models[0].Conflict == "" {
		t.Errorf("conflict not recorded: %+v", models)
	}
}

// TestFlipLatency measures how long a flip takes to reach an instance. It
// reports the figure; the bound it asserts is loose on purpose.
func TestFlipLatency(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		must(t, store.Ensure(ctx, db.Gorm))
		poll := 500 * time.Millisecond
		if db.Dialect == dialect.Postgres {
			poll = 30 * time.Second // push must do it, not polling
		}
		_, p := plugged(t, db, v2, compat.WithPollInterval(poll))
		time.Sleep(100 * time.Millisecond) // let the listener connect
		var worst time.Duration
		for i := 0; i < 5; i++ {
			d := setTo(t, db, p, v2, versions.StateContractReady)
			worst = max(worst, d)
			d = setTo(t, db, p, v2, versions.StateExpanded)
			worst = max(worst, d)
		}
		t.Logf("%s: worst flip-to-observed latency over 10 flips: %s (poll interval %s)", db.Dialect, worst, poll)
		limit := poll + 5*time.Second
		if db.Dialect == dialect.Postgres {
			limit = 5 * time.Second
		}
		if worst > limit {
			t.Errorf("flip took %s to be observed, more than %s", worst, limit)
		}
	})
}

// TestReadsSurviveExpand: an expand adds columns while instances run; their
// reads must not fail with PostgreSQL's "cached plan must not change result
// type" (pgx caches prepared statements; SELECT * would change shape, so
// the plugin lists the columns), with GORM's own prepared statement cache
// too.
func TestReadsSurviveExpand(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		must(t, db.Gorm.AutoMigrate(&CustomerV1{}))
		g, _ := plugged(t, db, v1, compat.WithoutListen())
		prepared := g.Session(&gorm.Session{PrepareStmt: true})
		c := CustomerV1{Name: "Ada Lovelace"}
		must(t, g.Create(&c).Error)
		for i := 0; i < 3; i++ {
			var got, viaPrepared CustomerV1
			must(t, g.First(&got, c.ID).Error)
			must(t, prepared.First(&viaPrepared, c.ID).Error)
		}
		db.Exec(t, "ALTER TABLE customers ADD COLUMN given_name VARCHAR(100)")
		for i := 0; i < 3; i++ {
			var got, viaPrepared CustomerV1
			if err := g.First(&got, c.ID).Error; err != nil || got.Name != "Ada Lovelace" {
				t.Fatalf("read %d after the expand: %+v, %v", i, got, err)
			}
			if err := prepared.First(&viaPrepared, c.ID).Error; err != nil || viaPrepared.Name != "Ada Lovelace" {
				t.Fatalf("read %d after the expand, through a prepared statement: %+v, %v", i, viaPrepared, err)
			}
		}
	})
}
