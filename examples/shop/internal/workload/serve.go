package workload

import (
	"context"
	"errors"
	"fmt"
	"math/rand"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/versions"
)

// Start installs p on db and reports the outcome through logf. It returns
// ExitRefused when the start-up guard refused the release (the guard's
// message says why and what to run), ExitError for another failure and
// ExitOK when the instance runs.
func Start(db *gorm.DB, p *compat.Plugin, logf func(string, ...any)) int {
	if err := db.Use(p); err != nil {
		logf("%v", err)
		var ge *compat.GuardError
		if errors.As(err, &ge) {
			return ExitRefused
		}
		return ExitError
	}
	logf("instance %s started in %s", p.ID(), p.Mode())
	return ExitOK
}

// WatchMode logs every change of p's mode (the flag flip) until ctx ends.
func WatchMode(ctx context.Context, p *compat.Plugin, logf func(string, ...any)) {
	mode := p.Mode()
	for {
		ch := p.Changed()
		if m := p.Mode(); m != mode {
			logf("instance %s now runs in %s (release %s is %s)", p.ID(), m, p.Release(), p.State())
			mode = m
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		}
	}
}

// VersionOf formats a row's object version: "1.0", "2.0", "2.0 (c)" for a
// row written in L(c), "-" for a row written before tandem.
func VersionOf(stamp int64) string {
	v, marked, err := versions.DecodeStamp(stamp)
	switch {
	case err != nil:
		return fmt.Sprintf("bad stamp %d", stamp)
	case v.IsZero():
		return "-"
	case marked:
		return v.String() + " (c)"
	}
	return v.String()
}

var (
	givenNames  = []string{"Ada", "Grace", "Alan", "Barbara", "Edsger", "Frances", "Ken", "Margaret", "Donald", "Radia"}
	familyNames = []string{"Lovelace", "Hopper", "Turing", "Liskov", "Dijkstra", "Allen", "Thompson", "Hamilton", "Knuth", "Perlman"}
)

// GivenName picks a given name.
func GivenName(r *rand.Rand) string { return givenNames[r.Intn(len(givenNames))] }

// FamilyName picks a family name.
func FamilyName(r *rand.Rand) string { return familyNames[r.Intn(len(familyNames))] }

// Email is customer id's address.
func Email(id uint) string { return fmt.Sprintf("c%d@shop.example", id) }
