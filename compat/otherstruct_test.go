package compat_test

import (
	"errors"
	"fmt"
	"strings"
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

type namesPatch struct{ FamilyName string }

// NamesPatch is namesPatch exported (GORM skips an embedded field whose
// type name is unexported).
type NamesPatch struct{ FamilyName string }

// TestOtherStructShapes: shapes of Dest of another type that GORM's
// ConvertToAssignments maps onto family_name must all be converted (Name
// follows), and one that it does not map must leave the row alone.
func TestOtherStructShapes(t *testing.T) {
	type byTag struct {
		Surname string `gorm:"column:family_name"`
	}
	type embedded struct{ NamesPatch }
	type embeddedUnexported struct{ namesPatch }
	type embeddedTag struct {
		N namesPatch `gorm:"embedded"`
	}
	type wrongCol struct {
		FamilyName string `gorm:"column:surname"`
	}
	cases := []struct {
		name string
		dest any
		want string // Name after the update
	}{
		{"anonymous", struct{ FamilyName string }{"Byron"}, "Ada Byron"},
		{"pointer", &struct{ FamilyName string }{"Byron"}, "Ada Byron"},
		{"column tag", byTag{"Byron"}, "Ada Byron"},
		{"embedded", embedded{NamesPatch{"Byron"}}, "Ada Byron"},
		{"embedded, unexported type (GORM writes nothing)", embeddedUnexported{namesPatch{"Byron"}}, "Ada Lovelace"},
		{"unexported field (GORM writes nothing)", struct{ familyName string }{"Byron"}, "Ada Lovelace"},
		{"zero value (GORM writes nothing)", struct{ FamilyName, Email string }{"", "x@example.com"}, "Ada Lovelace"},
		{"embedded tag", embeddedTag{namesPatch{"Byron"}}, "Ada Byron"},
		{"field mapped elsewhere", wrongCol{"Byron"}, "Ada Lovelace"},
	}
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, ids := expandedWithThree(t, db)
		cur, _ := plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithoutListen())
		for _, c := range cases {
			must(t, db.Gorm.Exec("UPDATE customers SET name = 'Ada Lovelace', given_name = NULL, family_name = NULL, obj_version = ? WHERE id = ?", v1.Stamp(), ids[0]).Error)
			err := cur.Model(&CustomerV2{ID: ids[0]}).Updates(c.dest).Error
			r := raw(t, db, ids[0])
			if err != nil || str(r.Name) != c.want {
				t.Errorf("%s: err %v, name %q given %q family %q stamp %d", c.name, err, str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion)
			}
		}
	})
}

// TestUpdatesPointerToMap: GORM dereferences a *map[string]any Dest and
// writes family_name; the update is converted as with a map (Name follows
// the family name, for 1.0).
func TestUpdatesPointerToMap(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, ids := expandedWithThree(t, db)
		cur, _ := plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithoutListen())
		m := map[string]any{"family_name": "Byron"}
		must(t, cur.Model(&CustomerV2{ID: ids[0]}).Updates(&m).Error)
		r := raw(t, db, ids[0])
		if str(r.Name) != "Ada Byron" {
			t.Errorf("Updates(&map): name %q given %q family %q stamp %d", str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion)
		}
	})
}

// TestOtherStructOnStampOnlyPath: a struct Dest of another type on the
// path that only stamps (a stamped model with no transitional field in the
// release: here 1.0's CustomerV1). GORM's SetColumn cannot put the stamp
// into a struct of another type (it panicked); the plugin writes it as an
// assignment of its own.
func TestOtherStructOnStampOnlyPath(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, ids := expandedWithThree(t, db) // 1.0 plugin, CustomerV1 changes nothing in 1.0
		noPanic(t, "1.0 Updates(struct{Email string})", func() error {
			return old.Model(&CustomerV1{ID: ids[1]}).Updates(struct{ Email string }{"grace@navy.mil"}).Error
		})
		if r := raw(t, db, ids[1]); str(r.Email) != "grace@navy.mil" || r.ObjVersion != v1.Stamp() {
			t.Errorf("email %q stamp %d, want grace@navy.mil stamped 1.0", str(r.Email), r.ObjVersion)
		}
	})
}

// TestOtherStructSelectStar: Select("*") with a Dest of another type is
// not a full write of the model (that would run the downgrade on the
// caller's model, not on the values written, and panicked setting the
// stamp): it is converted as a partial update.
func TestOtherStructSelectStar(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, ids := expandedWithThree(t, db)
		cur, _ := plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithoutListen())
		noPanic(t, "2.0 Select(*).Updates(struct{...})", func() error {
			return cur.Model(&CustomerV2{ID: ids[2]}).Select("*").Updates(struct {
				GivenName, FamilyName, Email string
			}{"Edsger", "Dijkstra", "ewd@example.com"}).Error
		})
		if r := raw(t, db, ids[2]); str(r.Name) != "Edsger Dijkstra" || str(r.Email) != "ewd@example.com" || r.ObjVersion != v2.Stamp() {
			t.Errorf("name %q email %q stamp %d, want Edsger Dijkstra, ewd@example.com, 2.0", str(r.Name), str(r.Email), r.ObjVersion)
		}
	})
}

// TestOtherStructDownstream: Select of a zero value, the fast path
// (a loaded model) and the direct path with a Dest of another type.
func TestOtherStructDownstream(t *testing.T) {
	type patch struct{ GivenName, FamilyName string }
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, ids := expandedWithThree(t, db)
		cur, _, readsDuring := countingReads(t, db)
		// Select of a zero value: GORM writes family_name = ''.
		must(t, cur.Model(&CustomerV2{ID: ids[0]}).Select("FamilyName").Updates(patch{}).Error)
		if r := raw(t, db, ids[0]); str(r.Name) != "Ada" || r.ObjVersion != v2.Stamp() {
			t.Errorf("Select(FamilyName) zero: name %q given %q family %q stamp %d", str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion)
		}
		// Fast path: a loaded model.
		var grace CustomerV2
		must(t, cur.First(&grace, ids[1]).Error)
		n := readsDuring(func() error { return cur.Model(&grace).Updates(patch{FamilyName: "Brewster"}).Error })
		if r := raw(t, db, ids[1]); str(r.Name) != "Grace Brewster" || r.ObjVersion != v2.Stamp() || grace.Name != "Grace Brewster" {
			t.Errorf("fast path (reads %d): name %q given %q family %q stamp %d; model %+v", n, str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion, grace)
		}
		// Direct path: every added field, no read.
		n = readsDuring(func() error {
			return cur.Model(&directCustomer{CustomerV2{ID: ids[2]}}).Updates(patch{"E", "Dijkstra-W"}).Error
		})
		if r := raw(t, db, ids[2]); n != 0 || str(r.Name) != "E Dijkstra-W" || r.ObjVersion != v2.Stamp() {
			t.Errorf("direct path (reads %d): name %q given %q family %q stamp %d", n, str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion)
		}
		// A slice Dest: GORM refuses it, and nothing is written.
		if err := cur.Model(&CustomerV2{ID: ids[0]}).Updates([]patch{{FamilyName: "X"}}).Error; err == nil {
			t.Error("Updates with a slice of structs: no error")
		}
		if r := raw(t, db, ids[0]); str(r.FamilyName) == "X" {
			t.Error("Updates with a slice of structs wrote family_name")
		}
	})
}

// TestQualifiedSelect: GORM resolves Select("customers.family_name") to
// family_name and writes it; the plugin sees the transitional column too
// and converts the update.
func TestQualifiedSelect(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, ids := expandedWithThree(t, db)
		cur, _ := plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithoutListen())
		must(t, cur.Model(&CustomerV2{ID: ids[0]}).Select("customers.family_name").Updates(CustomerV2{FamilyName: "Byron"}).Error)
		r := raw(t, db, ids[0])
		if str(r.Name) != "Ada Byron" {
			t.Errorf("Select(customers.family_name): name %q given %q family %q stamp %d", str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion)
		}
	})
}

// TestPointerMapOnStampPath: plain GORM accepts Updates(&map). On the
// path that only stamps (a model that changes nothing in the release) the
// plugin's stamp goes into the map, not through GORM's SetColumn, which
// does not take a pointer to a map (the update failed).
func TestPointerMapOnStampPath(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, ids := expandedWithThree(t, db) // 1.0 plugin: CustomerV1 changes nothing in 1.0
		m := map[string]any{"email": "grace@navy.mil"}
		err := old.Model(&CustomerV1{ID: ids[1]}).Updates(&m).Error
		if r := raw(t, db, ids[1]); err != nil || str(r.Email) != "grace@navy.mil" || r.ObjVersion != v1.Stamp() {
			t.Errorf("1.0 Updates(&map): err %v, email %q stamp %d", err, str(r.Email), r.ObjVersion)
		}
	})
}

// TestSelectStarMap: Select("*").Updates(map) writes only the map's keys,
// so it is a partial update, converted as such, not a Save of the caller's
// model (which left a 1.0 row stamped 2.0 with a stale Name).
func TestSelectStarMap(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, ids := expandedWithThree(t, db)
		cur, _ := plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithoutListen())
		err := cur.Model(&CustomerV2{ID: ids[0]}).Select("*").Updates(map[string]any{"family_name": "Byron"}).Error
		r := raw(t, db, ids[0])
		if err != nil || str(r.Name) != "Ada Byron" || str(r.GivenName) != "Ada" {
			t.Errorf("Select(*).Updates(map): err %v, name %q given %q family %q stamp %d", err, str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion)
		}
	})
}

// TestQualifiedMapKey: GORM writes a map key that names a transitional
// column with its table ("customers.family_name") or in other letter case
// ("Family_Name") as it is, so the converters would not see the value, and
// MySQL or SQLite would write it next to the converted family_name. The
// plugin refuses such an update with ErrUnconvertibleUpdate, before any
// SQL: the row is as it was.
func TestQualifiedMapKey(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, ids := expandedWithThree(t, db)
		cur, _ := plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithoutListen())
		show := func(r rawRow) string {
			return fmt.Sprintf("name %s given %s family %s email %s stamp %d", str(r.Name), str(r.GivenName), str(r.FamilyName), str(r.Email), r.ObjVersion)
		}
		before := raw(t, db, ids[0])
		for _, key := range []string{"customers.family_name", "Family_Name", "FAMILYNAME"} {
			err := cur.Model(&CustomerV2{ID: ids[0]}).Updates(map[string]any{key: "Byron"}).Error
			if !errors.Is(err, compat.ErrUnconvertibleUpdate) || !strings.Contains(err.Error(), `"family_name"`) {
				t.Errorf("Updates(map{%s}): %v, want ErrUnconvertibleUpdate naming family_name", key, err)
			}
			if after := raw(t, db, ids[0]); show(after) != show(before) {
				t.Errorf("row changed by a refused update (%s): %s, was %s", key, show(after), show(before))
			}
		}
	})
}

// noPanic runs f and fails the test, instead of crashing, if f panics or
// returns an error.
func noPanic(t *testing.T, what string, f func() error) {
	t.Helper()
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic: %v", p)
			}
		}()
		err = f()
	}()
	if err != nil {
		t.Errorf("%s: %v", what, err)
	}
}
