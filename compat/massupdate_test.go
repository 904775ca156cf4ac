package compat_test

import (
	"errors"
	"testing"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
)

// TestKeyedUpdateWithOrIsAMassUpdate: GORM joins a top-level Or to the
// key of Model(&c) without parentheses ("a OR b AND id = ?"), so such an
// update may match other rows than the key's. A conversion that needs the
// row (the read-modify-write, the compare-and-set of a loaded model) is
// refused as a mass update is, with no row changed; an update the direct
// path converts row by row, and one whose conditions are grouped, are
// written.
func TestKeyedUpdateWithOrIsAMassUpdate(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, cur, _, ids := dualWithThree(t, db)
		var ada CustomerV2
		must(t, cur.First(&ada, ids[0]).Error)
		for what, f := range map[string]func() error{
			"by key": func() error {
				return cur.Model(&CustomerV2{ID: ids[0]}).Where("email = ?", "grace@example.com").Or("email = ?", "edsger@example.com").Update("family_name", "X").Error
			},
			"of a loaded model": func() error {
				return cur.Model(&ada).Where("email = ?", "grace@example.com").Or("email = ?", "edsger@example.com").Update("family_name", "X").Error
			},
		} {
			if err := f(); !errors.Is(err, compat.ErrUnconvertibleUpdate) {
				t.Errorf("update %s with an Or condition: %v, want ErrUnconvertibleUpdate", what, err)
			}
			wantRow(t, db, "Ada after the update "+what, ids[0], "Ada Lovelace", "<nil>", "<nil>", v1.Stamp())
			wantRow(t, db, "Grace after the update "+what, ids[1], "Grace Hopper", "<nil>", "<nil>", v1.Stamp())
		}

		// Every added column set: each matched row gets the values, as
		// plain GORM would write them (Grace's row matches "email = grace").
		must(t, cur.Model(&directCustomer{CustomerV2{ID: ids[0]}}).Where("email = ?", "grace@example.com").Or("email = ?", "edsger@example.com").
			Updates(map[string]any{"given_name": "Amazing", "family_name": "Grace"}).Error)
		wantRow(t, db, "Grace after the direct update with Or", ids[1], "Amazing Grace", "Amazing", "Grace", v2.Stamp())
		wantRow(t, db, "Ada after the direct update with Or", ids[0], "Ada Lovelace", "<nil>", "<nil>", v1.Stamp())

		// Grouped, the conditions are ANDed with the key as a whole.
		must(t, cur.Model(&CustomerV2{ID: ids[0]}).Where(cur.Where("email = ?", "ada@example.com").Or("email = ?", "edsger@example.com")).
			Update("family_name", "King").Error)
		wantRow(t, db, "Ada after the grouped update", ids[0], "Ada King", "Ada", "King", v2.Stamp())
		wantEqual(t, "1.0 reads Edsger", nameForV1(t, old, ids[2]), "Edsger Dijkstra")
		wantRow(t, db, "Edsger after the grouped update", ids[2], "Edsger Dijkstra", "<nil>", "<nil>", v1.Stamp())
	})
}
