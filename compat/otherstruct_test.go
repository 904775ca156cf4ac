package compat_test

import (
	"testing"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
)

// TestUpdatesWithOtherStruct: GORM maps Updates(a struct of another type)
// onto the model's columns by name; a transitional column set that way is
// converted like one set through the model's own type (Name follows the
// family name 1.0 reads).
func TestUpdatesWithOtherStruct(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, ids := expandedWithThree(t, db)
		cur, _ := plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithoutListen())
		type patch struct{ FamilyName string }
		must(t, cur.Model(&CustomerV2{ID: ids[0]}).Updates(patch{FamilyName: "Byron"}).Error)
		r := raw(t, db, ids[0])
		if str(r.Name) != "Ada Byron" {
			t.Errorf("name %q given %q family %q stamp %d", str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion)
		}
	})
}
