package workload

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/examples/shop"
)

// Rows reads the customers and parcels with plain SQL, not through the
// compat plugin: what the database holds, for a checker that does not trust
// the code it checks. It needs the 2.0 columns (after the 2.0 expand).
func Rows(ctx context.Context, db *gorm.DB) ([]Customer, []Parcel, error) {
	db = db.WithContext(ctx)
	var cs []Customer
	rows, err := db.Raw("SELECT id, given_name, family_name FROM customers ORDER BY id").Rows()
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var c Customer
		var g, f *string
		if err := rows.Scan(&c.ID, &g, &f); err != nil {
			return nil, nil, err
		}
		c.GivenName, c.Family = orNull(g), orNull(f)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	var ps []Parcel
	prows, err := db.Raw("SELECT id, weight_kg FROM parcels ORDER BY id").Rows()
	if err != nil {
		return nil, nil, err
	}
	defer prows.Close()
	for prows.Next() {
		var p Parcel
		if err := prows.Scan(&p.ID, &p.Kg); err != nil {
			return nil, nil, err
		}
		ps = append(ps, p)
	}
	return cs, ps, prows.Err()
}

func orNull(s *string) string {
	if s == nil {
		return "<NULL>"
	}
	return *s
}

// DualWrites checks, on one snapshot of each table read with plain SQL, that
// every row stamped 2.0 in L(m) (by a 2.0 instance or by the backfill) also
// holds what release 1.0 reads: the full name and the weight in pounds, as
// the downgrade converter makes them. It returns how many rows it checked
// and what is wrong. Rows stamped 1.0 are converted when 2.0 reads them, and
// rows written in L(c) carry a marked stamp and may leave the deprecated
// columns behind, so neither is checked. It runs while writers write; it
// needs the 1.0 and the 2.0 columns (between the 2.0 expand and contract).
func DualWrites(ctx context.Context, db *gorm.DB) (int, []string, error) {
	db = db.WithContext(ctx)
	stamp := shop.V2.Stamp()
	var bad []string
	checked := 0
	rows, err := db.Raw("SELECT id, name, given_name, family_name FROM customers WHERE obj_version = ?", stamp).Rows()
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id uint
		var name string
		var g, f *string
		if err := rows.Scan(&id, &name, &g, &f); err != nil {
			return 0, nil, err
		}
		checked++
		if want := shop.JoinName(orNull(g), orNull(f)); name != want {
			bad = append(bad, fmt.Sprintf("customer %d stamped 2.0: release 1.0 reads name %q, 2.0 wrote %q", id, name, want))
		}
	}
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	prows, err := db.Raw("SELECT id, weight_lb, weight_kg FROM parcels WHERE obj_version = ?", stamp).Rows()
	if err != nil {
		return 0, nil, err
	}
	defer prows.Close()
	for prows.Next() {
		var id uint
		var lb int
		var kg *float64
		if err := prows.Scan(&id, &lb, &kg); err != nil {
			return 0, nil, err
		}
		checked++
		if kg == nil {
			bad = append(bad, fmt.Sprintf("parcel %d stamped 2.0 has no weight in kg (release 1.0 reads %d lb)", id, lb))
		} else if lb != shop.KgToLb(*kg) {
			bad = append(bad, fmt.Sprintf("parcel %d stamped 2.0: release 1.0 reads %d lb, 2.0 wrote %v kg", id, lb, *kg))
		}
	}
	return checked, bad, prows.Err()
}
