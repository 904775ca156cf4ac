package compat_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
	"gorm.io/gorm"
)

var v201, v21 = versions.MustParse("2.0.1"), versions.MustParse("2.1")

// startAs starts a plugin of rel with CustomerV2 (2.0's tags) without
// listing rel in the database.
func startAs(t *testing.T, db *dbtest.DB, rel versions.Version) (*gorm.DB, *compat.Plugin, error) {
	t.Helper()
	g := db.Open(t)
	p := compat.New(rel, compat.WithModels(&CustomerV2{}), compat.WithoutListen(), compat.WithPollInterval(50*time.Millisecond),
		compat.WithHeartbeat(50*time.Millisecond, 5*time.Second))
	if err := g.Use(p); err != nil {
		return nil, nil, err
	}
	t.Cleanup(func() { _ = p.Close() })
	return g, p, nil
}

// instanceOf returns the registry's row of the plugin's instance once its
// heartbeat satisfies ok.
func instanceOf(t *testing.T, db *dbtest.DB, p *compat.Plugin, what string, ok func(store.Instance) bool) store.Instance {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		insts, err := store.Instances(context.Background(), db.Gorm)
		must(t, err)
		for _, in := range insts {
			if in.ID == p.ID() && ok(in) {
				return in
			}
			if in.ID == p.ID() && time.Now().After(deadline) {
				t.Fatalf("instance of %s: %s not reached: %+v", p.Release(), what, in)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance of %s is not registered", p.Release())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPatchReleaseRunsAsBase: a binary of 2.0.1 whose models carry only
// 2.0's tags, with no expand of its own, behaves as 2.0 in every state of
// 2.0: it upgrades 1.0's rows, fills Name for 1.0, writes 2.0's stamps
// (the L(c) marker included, so a flip back refills its rows too) and its
// heartbeat acknowledges 2.0(c) only once it has seen it.
func TestPatchReleaseRunsAsBase(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		customersAt(t, db, relState{v1, versions.StateContracted})

		// 2.0's expand is missing: 2.0.1 carries its fields and is refused.
		_, _, err := startAs(t, db, v201)
		var ge *compat.GuardError
		if !errors.As(err, &ge) || !errors.Is(err, compat.ErrExpandNotApplied) || ge.Base != v2 {
			t.Fatalf("2.0.1 before 2.0's expand: Initialize = %v, want ErrExpandNotApplied naming base 2.0", err)
		}
		if !strings.Contains(err.Error(), "tandem expand --release 2.0") {
			t.Errorf("the refusal does not say to expand 2.0: %v", err)
		}
		if insts, _ := store.Instances(ctx, db.Gorm); len(insts) != 0 {
			t.Errorf("a refused instance registered: %+v", insts)
		}

		must(t, store.ForceState(ctx, db.Gorm, v2, versions.StateExpanded, "test setup"))
		old, _ := plugged(t, db, v1, compat.WithModels(&CustomerV1{}), compat.WithoutListen())
		ada := CustomerV1{Name: "Ada Lovelace", Email: "ada@example.com"}
		must(t, old.Create(&ada).Error)

		cur, p, err := startAs(t, db, v201)
		must(t, err)
		if p.RunsAs() != v2 || p.Mode() != compat.ModeDual || p.State() != versions.StateExpanded {
			t.Fatalf("2.0.1 runs as %s in %s (%s), want 2.0 in L(m)", p.RunsAs(), p.Mode(), p.State())
		}
		if s, err := store.State(ctx, db.Gorm, v201); err != nil || s != versions.StatePending {
			t.Errorf("2.0.1 is listed as %s (%v); starting must not list it", s, err)
		}

		// L(m): 1.0's row is upgraded on read; writes fill Name for 1.0 and
		// carry 2.0's stamp.
		var got CustomerV2
		must(t, cur.First(&got, ada.ID).Error)
		if got.GivenName != "Ada" || got.FamilyName != "Lovelace" {
			t.Errorf("1.0's row read by 2.0.1: given %q family %q, want Ada Lovelace", got.GivenName, got.FamilyName)
		}
		got.FamilyName = "King"
		must(t, cur.Save(&got).Error)
		r := raw(t, db, ada.ID)
		if str(r.Name) != "Ada King" || str(r.GivenName) != "Ada" || r.ObjVersion != v2.Stamp() {
			t.Errorf("after 2.0.1's Save: name %q given %q stamp %d, want Ada King, Ada, %d", str(r.Name), str(r.GivenName), r.ObjVersion, v2.Stamp())
		}
		grace := CustomerV2{GivenName: "Grace", FamilyName: "Hopper", Email: "grace@example.com"}
		must(t, cur.Create(&grace).Error)
		if r := raw(t, db, grace.ID); str(r.Name) != "Grace Hopper" || r.ObjVersion != v2.Stamp() {
			t.Errorf("2.0.1's Create: name %q stamp %d, want Grace Hopper, %d", str(r.Name), r.ObjVersion, v2.Stamp())
		}
		var seen CustomerV1
		must(t, old.First(&seen, grace.ID).Error)
		wantEqual(t, "1.0 reads 2.0.1's row", seen.Name, "Grace Hopper")

		in := instanceOf(t, db, p, "registered", func(store.Instance) bool { return true })
		if in.Release != "2.0.1" || in.Follows() != v2 || in.Acknowledged(v2) {
			t.Errorf("instance: release %s follows %s acknowledged 2.0(c) %v; want 2.0.1 following 2.0, not acknowledged", in.Release, in.Follows(), in.Acknowledged(v2))
		}

		// L(c) of 2.0: hidden, marked stamp, acknowledged by the heartbeat.
		setTo(t, db, p, v2, versions.StateContractReady)
		if p.Mode() != compat.ModeContract {
			t.Fatalf("2.0.1 after 2.0's flag: %s", p.Mode())
		}
		var names []string
		if err := cur.Model(&CustomerV2{}).Pluck("name", &names).Error; !errors.Is(err, compat.ErrDeprecatedField) {
			t.Errorf("Pluck of Name in 2.0(c) by 2.0.1: %v, want ErrDeprecatedField", err)
		}
		alan := CustomerV2{GivenName: "Alan", FamilyName: "Turing"}
		must(t, cur.Create(&alan).Error)
		wantEqual(t, "2.0.1's stamp in 2.0(c)", raw(t, db, alan.ID).ObjVersion, v2.MarkedStamp())
		instanceOf(t, db, p, "acknowledged 2.0(c)", func(in store.Instance) bool { return in.Acknowledged(v2) })

		// Flip back: 2.0.1 dual-writes again, and 1.0 is kept out until the
		// rows 2.0.1 wrote in L(c) are refilled.
		setTo(t, db, p, v2, versions.StateExpanded)
		if p.Mode() != compat.ModeDual {
			t.Errorf("2.0.1 after the flip back: %s", p.Mode())
		}
		if err := db.Open(t).Use(compat.New(v1, compat.WithModels(&CustomerV1{}), compat.WithoutListen())); !errors.Is(err, compat.ErrRefillPending) {
			t.Errorf("1.0 after the flip back, before the refill: %v, want ErrRefillPending", err)
		}

		// After 2.0's contract 2.0.1 is a release of its own with nothing
		// transitional: Name stays hidden and rows carry 2.0.1.
		setTo(t, db, p, v2, versions.StateContractReady)
		setTo(t, db, p, v2, versions.StateContracted)
		if p.RunsAs() != v201 || p.Mode() != compat.ModeDual {
			t.Errorf("2.0.1 after 2.0's contract runs as %s in %s, want itself in L(m)", p.RunsAs(), p.Mode())
		}
		if err := cur.Model(&CustomerV2{}).Pluck("name", &names).Error; !errors.Is(err, compat.ErrDeprecatedField) {
			t.Errorf("Pluck of Name after 2.0's contract: %v, want ErrDeprecatedField", err)
		}
		must(t, cur.Model(&CustomerV2{ID: grace.ID}).Update("family_name", "Brewster").Error)
		wantEqual(t, "stamp after 2.0's contract", raw(t, db, grace.ID).ObjVersion, v201.Stamp())
		in = instanceOf(t, db, p, "following itself", func(in store.Instance) bool { return in.FollowsStamp == 0 })
		if in.Follows() != v201 {
			t.Errorf("instance follows %s after 2.0's contract", in.Follows())
		}
	})
}

// TestListedReleaseFollowsBase: 2.1 has an expand of its own (an index,
// say) but its models carry only 2.0's tags. While 2.0 is in L(m), 2.1
// upgrades the rows 1.0 left and keeps writing Name, stamping 2.1; its heartbeat
// does not acknowledge 2.0(c) until it has seen it.
func TestListedReleaseFollowsBase(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		customersAt(t, db, relState{v1, versions.StateContracted}, relState{v2, versions.StateExpanded}, relState{v21, versions.StatePending})
		old, p1 := plugged(t, db, v1, compat.WithModels(&CustomerV1{}), compat.WithoutListen())
		ada := CustomerV1{Name: "Ada Lovelace"}
		must(t, old.Create(&ada).Error)
		must(t, p1.Close()) // 2.1's expand is refused while 1.0 runs

		// Its own expand is required.
		if _, _, err := startAs(t, db, v21); !errors.Is(err, compat.ErrExpandNotApplied) {
			t.Fatalf("2.1 before its expand: %v", err)
		}
		must(t, store.ForceState(ctx, db.Gorm, v21, versions.StateExpanded, "test setup"))
		cur, p, err := startAs(t, db, v21)
		must(t, err)
		if p.RunsAs() != v2 || p.Mode() != compat.ModeDual {
			t.Fatalf("2.1 runs as %s in %s, want 2.0 in L(m)", p.RunsAs(), p.Mode())
		}
		var got CustomerV2
		must(t, cur.First(&got, ada.ID).Error)
		got.GivenName = "Augusta"
		must(t, cur.Save(&got).Error)
		r := raw(t, db, ada.ID)
		if str(r.Name) != "Augusta Lovelace" || r.ObjVersion != v21.Stamp() {
			t.Errorf("2.1's Save of 1.0's row: name %q stamp %d, want Augusta Lovelace, %d", str(r.Name), r.ObjVersion, v21.Stamp())
		}
		in := instanceOf(t, db, p, "registered", func(store.Instance) bool { return true })
		if in.Follows() != v2 || in.Acknowledged(v2) || !in.Acknowledged(v21) {
			t.Errorf("2.1's instance follows %s, acknowledged 2.0(c) %v, 2.1(c) %v; want 2.0, false, true", in.Follows(), in.Acknowledged(v2), in.Acknowledged(v21))
		}
		setTo(t, db, p, v2, versions.StateContractReady)
		instanceOf(t, db, p, "acknowledged 2.0(c)", func(in store.Instance) bool { return in.Acknowledged(v2) })
		alan := CustomerV2{GivenName: "Alan", FamilyName: "Turing"}
		must(t, cur.Create(&alan).Error)
		wantEqual(t, "2.1's stamp in 2.0(c)", raw(t, db, alan.ID).ObjVersion, v21.Stamp())
	})
}

// TestBaseReleaseNotListed: a database built from a baseline that covers
// 2.0 lists 3.0 only. A 3.0.1 binary whose newest tags are 2.0's starts
// (2.0 is taken as contracted: a later release is), runs as itself with
// Name hidden, and stamps 3.0.1. On a database where nothing at or above
// 2.0 is expanded it is refused.
func TestBaseReleaseNotListed(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		customersAt(t, db, relState{versions.MustParse("3.0"), versions.StateContracted})
		cur, p, err := startAs(t, db, versions.MustParse("3.0.1"))
		if err != nil {
			t.Fatalf("3.0.1 with 2.0's tags on a database listing only 3.0: %v", err)
		}
		if p.RunsAs() != versions.MustParse("3.0.1") {
			t.Errorf("runs as %s", p.RunsAs())
		}
		c := CustomerV2{GivenName: "Alan", FamilyName: "Turing"}
		must(t, cur.Create(&c).Error)
		wantEqual(t, "stamp", raw(t, db, c.ID).ObjVersion, versions.MustParse("3.0.1").Stamp())
		var names []string
		if err := cur.Model(&CustomerV2{}).Pluck("name", &names).Error; !errors.Is(err, compat.ErrDeprecatedField) {
			t.Errorf("Pluck of Name: %v, want ErrDeprecatedField", err)
		}

		must(t, store.ForceState(ctx, db.Gorm, versions.MustParse("3.0"), versions.StateExpanding, "test setup"))
		if _, _, err := startAs(t, db, versions.MustParse("3.0.1")); !errors.Is(err, compat.ErrExpandNotApplied) {
			t.Errorf("3.0.1 with 2.0 unlisted and 3.0 expanding: %v, want ErrExpandNotApplied", err)
		}
	})
}

// TestTooOldWhileBeyondExpanding: a 1.0 binary is refused while 3.0's
// expand runs and 2.0 is in L(m), not only once 3.0 is expanded: an
// instance that started during the expand would run beside 3.0's.
func TestTooOldWhileBeyondExpanding(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		v3 := versions.MustParse("3.0")
		customersAt(t, db, relState{v1, versions.StateContracted}, relState{v2, versions.StateExpanded}, relState{v3, versions.StateExpanding})
		err := db.Open(t).Use(compat.New(v1, compat.WithModels(&CustomerV1{}), compat.WithoutListen()))
		var ge *compat.GuardError
		if !errors.As(err, &ge) || !errors.Is(err, compat.ErrTooOld) || ge.Other != v3 || ge.Next != v2 || ge.State != versions.StateExpanding {
			t.Errorf("1.0 while 3.0 is expanding: %v", err)
		}
	})
}
