package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

// TestEnsureAddsNewColumns: a database whose tandem_instances table was
// made before follows_stamp existed gets the column from Ensure, keeps its
// rows, and takes heartbeats that set it.
func TestEnsureAddsNewColumns(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		if err := store.Ensure(ctx, db.Gorm); err != nil {
			t.Fatal(err)
		}
		m := db.Gorm.Migrator()
		now := store.Now()
		old := store.Instance{ID: "old-1", Host: "h", PID: 1, Release: "1.0", ReleaseStamp: versions.MustParse("1.0").Stamp(),
			StartedAt: now, HeartbeatAt: now, ExpiresAt: now.Add(time.Minute), SeenState: "contracted", Mode: "L(c)"}
		if err := store.SaveInstance(ctx, db.Gorm, &old); err != nil {
			t.Fatal(err)
		}
		if err := m.DropColumn(&store.Instance{}, "follows_stamp"); err != nil {
			t.Fatal(err)
		}
		if m.HasColumn(&store.Instance{}, "follows_stamp") {
			t.Fatal("setup: follows_stamp still there")
		}
		if err := store.Ensure(ctx, db.Gorm); err != nil {
			t.Fatalf("Ensure over the older table: %v", err)
		}
		if !m.HasColumn(&store.Instance{}, "follows_stamp") {
			t.Fatal("Ensure did not add follows_stamp")
		}
		if err := store.Ensure(ctx, db.Gorm); err != nil {
			t.Fatalf("Ensure again: %v", err)
		}
		v2 := versions.MustParse("2.0")
		in := store.Instance{ID: "new-1", Host: "h", PID: 2, Release: "2.0.1", ReleaseStamp: versions.MustParse("2.0.1").Stamp(),
			StartedAt: now, HeartbeatAt: now, ExpiresAt: now.Add(time.Minute), SeenState: "expanded", Mode: "L(m)", FollowsStamp: v2.Stamp()}
		if err := store.SaveInstance(ctx, db.Gorm, &in); err != nil {
			t.Fatal(err)
		}
		insts, err := store.Instances(ctx, db.Gorm)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]store.Instance{}
		for _, in := range insts {
			byID[in.ID] = in
		}
		if o, n := byID["old-1"], byID["new-1"]; len(insts) != 2 || o.FollowsStamp != 0 || o.Follows() != versions.MustParse("1.0") ||
			n.Follows() != v2 || n.Acknowledged(v2) {
			t.Errorf("instances after the upgrade: %+v", insts)
		}
	})
}

// TestAcknowledged covers who has acknowledged a release's L(c).
func TestAcknowledged(t *testing.T) {
	v1, v2, v201, v21 := versions.MustParse("1.0"), versions.MustParse("2.0"), versions.MustParse("2.0.1"), versions.MustParse("2.1")
	at := func(rel, follows versions.Version, seen versions.State) store.Instance {
		in := store.Instance{Release: rel.String(), ReleaseStamp: rel.Stamp(), SeenState: string(seen)}
		if follows != rel {
			in.FollowsStamp = follows.Stamp()
		}
		return in
	}
	for _, c := range []struct {
		name string
		in   store.Instance
		want bool
	}{
		{"older release", at(v1, v1, versions.StateContracted), false},
		{"same release, L(m)", at(v2, v2, versions.StateExpanded), false},
		{"same release, seen contract-ready", at(v2, v2, versions.StateContractReady), true},
		{"same release, seen contracted", at(v2, v2, versions.StateContracted), true},
		{"later release", at(v21, v21, versions.StateExpanded), true},
		{"patch release following 2.0, L(m)", at(v201, v2, versions.StateExpanded), false},
		{"patch release following 2.0, seen contract-ready", at(v201, v2, versions.StateContractReady), true},
		{"later release following 2.0, L(m)", at(v21, v2, versions.StateExpanded), false},
	} {
		if got := c.in.Acknowledged(v2); got != c.want {
			t.Errorf("%s: Acknowledged(2.0) = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestDocsFor: a release's declarations are those registered for it; for a
// table only later releases registered, the lowest one whose columns name
// the release (a patch release running as it) stands in; one that names
// other releases only does not.
func TestDocsFor(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		if err := store.Ensure(ctx, db.Gorm); err != nil {
			t.Fatal(err)
		}
		reg := func(rel, table, model string, cols ...store.ColumnDoc) {
			t.Helper()
			d := store.SpecDoc{Model: model, Table: table, PrimaryKey: []string{"id"}, Stamp: "obj_version", Columns: cols}
			m := &store.ModelSpec{Release: rel, ReleaseStamp: versions.MustParse(rel).Stamp(), Table: table, Model: model, Spec: d.JSON(), RegisteredAt: store.Now(), Instance: "i-" + rel}
			if err := store.RegisterModel(ctx, db.Gorm, m); err != nil {
				t.Fatal(err)
			}
		}
		name20 := store.ColumnDoc{Column: "name", Field: "Name", Deprecated: "2.0"}
		reg("2.0", "customers", "CustomerV2", name20)
		reg("2.0.1", "customers", "CustomerV2patched", name20)
		reg("2.0.1", "parcels", "ParcelV201", store.ColumnDoc{Column: "pounds", Field: "Pounds", Deprecated: "2.0"})
		reg("2.0.2", "parcels", "ParcelV202", store.ColumnDoc{Column: "pounds", Field: "Pounds", Deprecated: "2.0"})
		reg("3.0", "notes", "NoteV3", store.ColumnDoc{Column: "body", Field: "Body", Added: "3.0"})
		reg("1.0", "people", "PersonV1")

		docs, err := store.DocsFor(ctx, db.Gorm, versions.MustParse("2.0"))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range docs {
			got = append(got, d.Table+"="+d.Model)
		}
		want := "customers=CustomerV2 parcels=ParcelV201"
		if strings.Join(got, " ") != want {
			t.Errorf("DocsFor(2.0) = %v, want %s", got, want)
		}
	})
}
