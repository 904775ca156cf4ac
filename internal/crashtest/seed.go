package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/examples/shop"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

// phase is the phase of release 2.0 a trial crashes.
type phase string

// The phases, in protocol order.
const (
	phaseExpand   phase = "expand"
	phaseMigrate  phase = "migrate"
	phaseContract phase = "contract"
)

var allPhases = []phase{phaseExpand, phaseMigrate, phaseContract}

func parsePhase(s string) (phase, error) {
	for _, p := range allPhases {
		if string(p) == s {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown phase %q (expand, migrate, contract or all)", s)
}

// start is where a trial's database stands before the tandem binary runs.
type start struct {
	phase phase
	// fresh: expand starts from an empty database (a fresh install: the
	// 1.0 baseline, then 2.0's expand), with no rows. Otherwise the
	// database is at 1.0 with rows rows per table, written by 1.0.
	fresh bool
	rows  int
}

func (s start) String() string {
	if s.fresh {
		return "empty database"
	}
	switch s.phase {
	case phaseExpand:
		return fmt.Sprintf("1.0 with %d rows per table", s.rows)
	case phaseMigrate:
		return fmt.Sprintf("2.0 expanded, %d rows per table, stale ones stamped 1.0", s.rows)
	default:
		return fmt.Sprintf("2.0 migrated and contract-ready, %d rows per table", s.rows)
	}
}

// The seeded rows: every value follows from the row's id, so that the
// checks know each one without keeping them.

// seedName is the 1.0 name of customer i: mostly "given family", and some
// one-word names, names of three words, padded and non-ASCII ones.
func seedName(i int) string {
	switch {
	case i%11 == 0:
		return fmt.Sprintf("Mono%d", i)
	case i%7 == 0:
		return fmt.Sprintf("Ada%d de Lovelace%d", i, i)
	case i%13 == 0:
		return fmt.Sprintf("  Pad%d   Ded%d", i, i)
	case i%17 == 0:
		return fmt.Sprintf("Zoë%d Ångström%d", i, i)
	}
	return fmt.Sprintf("Given%d Family%d", i, i)
}

func seedEmail(i int) string { return fmt.Sprintf("c%d@example.com", i) }

// seedLb is the 1.0 weight of parcel i in pounds.
func seedLb(i int) int { return (i * 37) % 400 }

// preConverted reports whether row i was written by a 2.0 instance before
// the migrate (it carries 2.0's stamp and values the converters would not
// produce): the backfill must leave it alone.
func preConverted(i int) bool { return i%20 == 0 }

func preGiven(i int) string  { return fmt.Sprintf("Pre%d", i) }
func preFamily(i int) string { return fmt.Sprintf("Written%d", i) }
func preKg(i int) float64    { return float64(i%50) + 0.25 }

// newRunner is an in-process runner with the shop's migrations and models:
// it prepares the start points and computes coverage.
func newRunner(db *gorm.DB) (*migrations.Runner, error) {
	return migrations.New(db, shop.Migrations(),
		migrations.WithModels(&shop.CustomerV2{}, &shop.ParcelV2{}),
		migrations.WithLockTimeout(2*time.Minute))
}

// prepare brings an empty database to the start point, in process.
func prepare(ctx context.Context, db *gorm.DB, s start) error {
	if s.fresh {
		return nil
	}
	r, err := newRunner(db)
	if err != nil {
		return err
	}
	if _, err := r.Expand(ctx, shop.V1); err != nil {
		return fmt.Errorf("expand 1.0: %w", err)
	}
	// Rows written by 1.0: all of them before an expand, the stale ones
	// before a migrate.
	if s.phase != phaseContract {
		if err := insertV1(ctx, db, s); err != nil {
			return err
		}
	}
	if s.phase == phaseExpand {
		return nil
	}
	if _, err := r.Expand(ctx, shop.V2); err != nil {
		return fmt.Errorf("expand 2.0: %w", err)
	}
	// Rows 2.0 instances wrote in 2.0(m): the new fields, the deprecated
	// ones kept right for 1.0 by the downgrade converters, stamped 2.0.
	// Before a contract every row is so (as the backfill leaves them, and
	// much faster to seed than running it).
	name := func(i int) (full, given, family string) {
		if preConverted(i) {
			return shop.JoinName(preGiven(i), preFamily(i)), preGiven(i), preFamily(i)
		}
		given, family = shop.SplitName(seedName(i))
		return seedName(i), given, family
	}
	weight := func(i int) (lb int, kg float64) {
		if preConverted(i) {
			return shop.KgToLb(preKg(i)), preKg(i)
		}
		return seedLb(i), shop.LbToKg(seedLb(i))
	}
	all := s.phase == phaseContract
	if err := insertRows(ctx, db, "customers", []string{"id", "name", "given_name", "family_name", "email", "obj_version"}, s.rows, func(i int) []any {
		if !all && !preConverted(i) {
			return nil
		}
		full, given, family := name(i)
		return []any{i, full, given, family, seedEmail(i), shop.V2.Stamp()}
	}); err != nil {
		return err
	}
	if err := insertRows(ctx, db, "parcels", []string{"id", "customer_id", "weight_lb", "weight_kg", "obj_version"}, s.rows, func(i int) []any {
		if !all && !preConverted(i) {
			return nil
		}
		lb, kg := weight(i)
		return []any{i, i, lb, kg, shop.V2.Stamp()}
	}); err != nil {
		return err
	}
	if s.phase == phaseMigrate {
		return nil
	}
	if _, err := r.Migrate(ctx, shop.V2); err != nil {
		return fmt.Errorf("migrate 2.0: %w", err)
	}
	if err := r.SetState(ctx, shop.V2, versions.StateContractReady); err != nil {
		return fmt.Errorf("flag 2.0 contract-ready: %w", err)
	}
	return nil
}

// insertV1 seeds the rows 1.0 wrote; before a migrate, those 2.0 will
// have written are left out.
func insertV1(ctx context.Context, db *gorm.DB, s start) error {
	skip := func(i int) bool { return s.phase == phaseMigrate && preConverted(i) }
	if err := insertRows(ctx, db, "customers", []string{"id", "name", "email", "obj_version"}, s.rows, func(i int) []any {
		if skip(i) {
			return nil
		}
		return []any{i, seedName(i), seedEmail(i), shop.V1.Stamp()}
	}); err != nil {
		return err
	}
	return insertRows(ctx, db, "parcels", []string{"id", "customer_id", "weight_lb", "obj_version"}, s.rows, func(i int) []any {
		if skip(i) {
			return nil
		}
		return []any{i, i, seedLb(i), shop.V1.Stamp()}
	})
}

// insertRows inserts the rows 1..n that row returns (nil: none) with
// multi-row INSERTs.
func insertRows(ctx context.Context, db *gorm.DB, table string, cols []string, n int, row func(i int) []any) error {
	const chunk = 250
	head := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	var (
		tuples []string
		args   []any
	)
	flush := func() error {
		if len(tuples) == 0 {
			return nil
		}
		err := db.WithContext(ctx).Exec(head+strings.Join(tuples, ", "), args...).Error
		tuples, args = tuples[:0], args[:0]
		if err != nil {
			return fmt.Errorf("seed %s: %w", table, err)
		}
		return nil
	}
	for i := 1; i <= n; i++ {
		vals := row(i)
		if vals == nil {
			continue
		}
		tuples = append(tuples, tuple)
		args = append(args, vals...)
		if len(tuples) == chunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}
