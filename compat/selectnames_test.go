package compat_test

import (
	"testing"
	"time"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
)

// TestUpdateSelectNames: GORM reads a Select entry qualified by the table
// or quoted as the column it names, and "customers.*" as every column. In
// L(m) such an update of transitional columns is converted like one by
// the bare name: Name follows for 1.0 and the row is stamped 2.0. Before,
// they went through unconverted and 1.0 read the old Name.
func TestUpdateSelectNames(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, ids := expandedWithThree(t, db)
		cur, _ := plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithoutListen(), compat.WithPollInterval(50*time.Millisecond))
		for _, c := range []struct {
			sel  string
			id   uint
			set  CustomerV2
			want string
		}{
			{`"family_name"`, ids[0], CustomerV2{FamilyName: "King"}, "Ada King"},
			{"`given_name`", ids[1], CustomerV2{GivenName: "Amazing"}, "Amazing Hopper"},
			{"customers.family_name", ids[2], CustomerV2{FamilyName: "Dijkstra-W"}, "Edsger Dijkstra-W"},
			{`"customers"."given_name"`, ids[0], CustomerV2{GivenName: "Augusta"}, "Augusta King"},
		} {
			must(t, cur.Model(&CustomerV2{ID: c.id}).Select(c.sel).Updates(c.set).Error)
			r := raw(t, db, c.id)
			if str(r.Name) != c.want || r.ObjVersion != v2.Stamp() {
				t.Errorf("Select(%s).Updates: name %q stamp %d, want %q, %d", c.sel, str(r.Name), r.ObjVersion, c.want, v2.Stamp())
			}
		}

		// "*" and customers.* write every column from the value, zero
		// values included: converted, with Name derived and the stamp.
		for i, sel := range []string{"*", "customers.*"} {
			family := []string{"Brewster", "Murray"}[i]
			must(t, cur.Model(&CustomerV2{ID: ids[1]}).Select(sel).Updates(CustomerV2{ID: ids[1], GivenName: "Grace", FamilyName: family, Email: "grace@example.com"}).Error)
			r := raw(t, db, ids[1])
			if str(r.Name) != "Grace "+family || str(r.FamilyName) != family || r.ObjVersion != v2.Stamp() {
				t.Errorf("Select(%q).Updates: name %q family %q stamp %d, want Grace %s", sel, str(r.Name), str(r.FamilyName), r.ObjVersion, family)
			}
		}
	})
}
