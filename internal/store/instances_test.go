package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

// TestRegisterModelRedeclares: a declaration of a (release, table) that
// differs from the recorded one, or meets a recorded conflict, replaces it
// and clears the conflict when no instance of the release is live (the
// odd build stopped and the right one starts), and is refused with the
// conflict recorded while one is. Instances of other releases and stale
// ones do not count.
func TestRegisterModelRedeclares(t *testing.T) {
	const (
		right = `{"table":"customers","v":"right"}`
		odd   = `{"table":"customers","v":"odd"}`
	)
	cases := []struct {
		name      string
		instances []store.Instance // registered before the second declaration
		second    string           // the second declaration (the first is odd)
		conflict  bool             // the second is refused with a conflict
		kept      string           // the declaration recorded after it
	}{
		{name: "no instance", second: right, kept: right},
		{name: "an instance of 2.0 live", instances: []store.Instance{instance("odd-1", "2.0", time.Hour)}, second: right, conflict: true, kept: odd},
		{name: "the same declaration, an instance live", instances: []store.Instance{instance("odd-1", "2.0", time.Hour)}, second: odd, kept: odd},
		{name: "only an instance of 1.0 live", instances: []store.Instance{instance("old-1", "1.0", time.Hour)}, second: right, kept: right},
		{name: "only a stale instance of 2.0", instances: []store.Instance{instance("dead-1", "2.0", -time.Minute)}, second: right, kept: right},
	}
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		if err := store.Ensure(ctx, db.Gorm); err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				t.Cleanup(func() {
					db.Exec(t, "DELETE FROM "+store.ModelsTable)
					db.Exec(t, "DELETE FROM "+store.InstancesTable)
				})
				if err := store.RegisterModel(ctx, db.Gorm, spec("odd-1", odd)); err != nil {
					t.Fatalf("first declaration: %v", err)
				}
				for _, in := range c.instances {
					if err := store.SaveInstance(ctx, db.Gorm, &in); err != nil {
						t.Fatal(err)
					}
				}
				err := store.RegisterModel(ctx, db.Gorm, spec("right-1", c.second))
				var ce *store.ConflictError
				if got := errors.As(err, &ce); got != c.conflict || (!got && err != nil) {
					t.Fatalf("second declaration: %v, want a conflict: %v", err, c.conflict)
				}
				m := onlyModel(t, db)
				if m.Spec != c.kept || (m.Conflict != "") != c.conflict {
					t.Errorf("recorded: spec %s, conflict %q; want spec %s, a conflict: %v", m.Spec, m.Conflict, c.kept, c.conflict)
				}
			})
		}

		// A conflict recorded while the odd build ran is cleared when the
		// right build starts after it stopped, with the same declaration
		// the registry holds, and the journal says so.
		t.Run("conflict cleared after redeploy", func(t *testing.T) {
			if err := store.RegisterModel(ctx, db.Gorm, spec("right-1", right)); err != nil {
				t.Fatal(err)
			}
			live := instance("right-1", "2.0", time.Hour)
			if err := store.SaveInstance(ctx, db.Gorm, &live); err != nil {
				t.Fatal(err)
			}
			if err := store.RegisterModel(ctx, db.Gorm, spec("odd-2", odd)); err == nil {
				t.Fatal("odd declaration beside a live instance accepted")
			}
			if err := store.RegisterModel(ctx, db.Gorm, spec("right-3", right)); err != nil {
				t.Fatalf("right declaration beside a live right one: %v", err)
			}
			if m := onlyModel(t, db); m.Conflict == "" || m.Instance != "right-1" {
				t.Errorf("the conflict went while an instance of 2.0 is live: %+v", m)
			}
			if _, err := store.DeleteInstance(ctx, db.Gorm, "right-1"); err != nil {
				t.Fatal(err)
			}
			if err := store.RegisterModel(ctx, db.Gorm, spec("right-2", right)); err != nil {
				t.Fatalf("right declaration after every instance stopped: %v", err)
			}
			if m := onlyModel(t, db); m.Spec != right || m.Conflict != "" || m.Instance != "right-2" {
				t.Errorf("recorded: %+v", m)
			}
			evs, err := store.Events(ctx, db.Gorm, 0)
			if err != nil {
				t.Fatal(err)
			}
			var said []string
			for _, e := range evs {
				if e.Action == "model" && e.Release == "2.0" && strings.Contains(e.Detail, "conflict cleared") {
					said = append(said, e.Detail)
				}
			}
			if len(said) != 1 || !strings.Contains(said[0], "right-2") || !strings.Contains(said[0], "no instance of release 2.0 was live") {
				t.Errorf("journal: %q", said)
			}
		})
	})
}

func instance(id, rel string, expiresIn time.Duration) store.Instance {
	now := store.Now()
	return store.Instance{ID: id, Host: "h", PID: 1, Release: rel, ReleaseStamp: versions.MustParse(rel).Stamp(),
		StartedAt: now, HeartbeatAt: now, ExpiresAt: now.Add(expiresIn), SeenState: "expanded", Mode: "L(m)"}
}

func spec(instanceID, doc string) *store.ModelSpec {
	return &store.ModelSpec{Release: "2.0", Table: "customers", ReleaseStamp: versions.MustParse("2.0").Stamp(),
		Model: "Customer", Spec: doc, RegisteredAt: store.Now(), Instance: instanceID}
}

func onlyModel(t *testing.T, db *dbtest.DB) store.ModelSpec {
	t.Helper()
	models, err := store.Models(context.Background(), db.Gorm)
	if err != nil {
		t.Fatal(err)
	}
	if len(models) != 1 {
		t.Fatalf("models: %+v", models)
	}
	return models[0]
}
