package compat_test

import (
	"errors"
	"testing"
	"time"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/versions"
)

// TestFlipBackKeepsMarkerWithNewerRelease: 2.0 was contract-ready (rows
// written then carry 2.0's marked stamp: Name not filled), 3.0 is
// expanded, and 2.0 is flipped back to L(m). A 2.0 partial update of Email
// (no transitional column), which lowers a newer release's stamp to 2.0's,
// must leave the marker, which sorts above plain 2.0: it is what tells
// `tandem migrate` to refill Name, and the refill guard to keep 1.0 out
// until then.
func TestFlipBackKeepsMarkerWithNewerRelease(t *testing.T) { flipBackKeepsMarker(t, true) }

// TestFlipBackKeepsMarker is the same without 3.0.
func TestFlipBackKeepsMarker(t *testing.T) { flipBackKeepsMarker(t, false) }

func flipBackKeepsMarker(t *testing.T, withV3 bool) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		v3 := versions.MustParse("3.0")
		states := []relState{{v1, versions.StateContracted}, {v2, versions.StateContractReady}}
		if withV3 {
			states = append(states, relState{v3, versions.StateExpanded})
		}
		customersAt(t, db, states...)
		cur, p2 := plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithoutListen(), compat.WithPollInterval(50*time.Millisecond))

		c := CustomerV2{GivenName: "Ada", FamilyName: "Lovelace", Email: "ada@example.com"}
		must(t, cur.Create(&c).Error)
		wantEqual(t, "stamp written in L(c)", raw(t, db, c.ID).ObjVersion, v2.MarkedStamp())

		setTo(t, db, p2, v2, versions.StateExpanded) // flip back
		must(t, cur.Model(&CustomerV2{ID: c.ID}).Update("email", "ada@lovelace.org").Error)
		r := raw(t, db, c.ID)
		wantEqual(t, "stamp after 2.0(m)'s update of Email", r.ObjVersion, v2.MarkedStamp())

		// The guard keeps 1.0 out: it would read the Name that L(c) never
		// wrote (with 3.0 expanded, 1.0 is too old anyway).
		g := db.Open(t)
		p1 := compat.New(v1, compat.WithModels(&CustomerV1{}), compat.WithoutListen())
		err := g.Use(p1)
		if err == nil {
			t.Cleanup(func() { _ = p1.Close() })
			var seen CustomerV1
			must(t, g.First(&seen, c.ID).Error)
			t.Errorf("1.0 started before the refill and reads Name %q (given %s family %s)", seen.Name, str(r.GivenName), str(r.FamilyName))
		} else if !errors.Is(err, compat.ErrRefillPending) && !(withV3 && errors.Is(err, compat.ErrTooOld)) {
			t.Errorf("1.0 refused for another reason: %v", err)
		}
	})
}
