package compat_test

import (
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
)

// updateHookCustomer is CustomerV2 with BeforeUpdate and AfterUpdate hooks
// that count their calls.
type updateHookCustomer struct{ CustomerV2 }

var beforeUpdates, afterUpdates atomic.Int64

func (*updateHookCustomer) BeforeUpdate(*gorm.DB) error { beforeUpdates.Add(1); return nil }
func (*updateHookCustomer) AfterUpdate(*gorm.DB) error  { afterUpdates.Add(1); return nil }

// countingUpdates is dualWithThree with a 2.0 instance whose logger counts
// the UPDATEs of customers.
func countingUpdates(t *testing.T, db *dbtest.DB) (old, cur *gorm.DB, ids []uint, updates *atomic.Int64) {
	t.Helper()
	old, ids = expandedWithThree(t, db)
	cur = db.Open(t)
	counter := &sqlCounter{Interface: logger.Discard, re: customersUpdate}
	cur.Logger = counter
	p2 := compat.New(v2, compat.WithModels(&CustomerV2{}), compat.WithPollInterval(50*time.Millisecond))
	must(t, cur.Use(p2))
	t.Cleanup(func() { _ = p2.Close() })
	return old, cur, ids, &counter.n
}

// TestFallbackKeepsSelectAndOmit: when the compare-and-set of a loaded
// model's update matches no row (1.0 renamed her since), the update runs
// again through the locked read and writes what the caller's Select or
// Omit let through, no more.
func TestFallbackKeepsSelectAndOmit(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, cur, _, ids := dualWithThree(t, db)
		var loaded CustomerV2
		must(t, cur.First(&loaded, ids[0]).Error)
		must(t, old.Model(&CustomerV1{ID: ids[0]}).Update("name", "Augusta Lovelace").Error)
		res := cur.Model(&loaded).Select("family_name").Updates(CustomerV2{GivenName: "Zed", FamilyName: "King"})
		must(t, res.Error)
		wantEqual(t, "rows affected", res.RowsAffected, int64(1))
		wantRow(t, db, "Select(family_name) after a concurrent 1.0 rename", ids[0], "Augusta King", "Augusta", "King", v2.Stamp())
		wantEqual(t, "the caller's model", loaded.Name, "Augusta King")

		var grace CustomerV2
		must(t, cur.First(&grace, ids[1]).Error)
		must(t, old.Model(&CustomerV1{ID: ids[1]}).Update("name", "Amazing Hopper").Error)
		must(t, cur.Model(&grace).Omit("given_name", "email").Updates(CustomerV2{GivenName: "Zed", FamilyName: "Murray", Email: "zed@example.com"}).Error)
		wantRow(t, db, "Omit(given_name, email) after a concurrent 1.0 rename", ids[1], "Amazing Murray", "Amazing", "Murray", v2.Stamp())
		wantEqual(t, "email", str(raw(t, db, ids[1]).Email), "grace@example.com")
	})
}

// TestFallbackKeepsTable: a loaded model's update on db.Table(...) that
// falls back updates that table, and reads the row back from it.
func TestFallbackKeepsTable(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, cur, _, ids := dualWithThree(t, db)
		euCustomers(t, db, old, ids[0])
		var loaded CustomerV2
		must(t, cur.Table("customers_eu").First(&loaded, ids[0]).Error)
		wantEqual(t, "given name read from customers_eu", loaded.GivenName, "Grace")
		must(t, old.Table("customers_eu").Model(&CustomerV1{ID: ids[0]}).Update("name", "Grace Brewster").Error)
		res := cur.Table("customers_eu").Model(&loaded).Update("family_name", "Murray")
		must(t, res.Error)
		wantEqual(t, "rows affected", res.RowsAffected, int64(1))
		wantRow(t, db, "customers, not updated", ids[0], "Ada Lovelace", "<nil>", "<nil>", v1.Stamp())
		if r := euRow(t, db, ids[0]); str(r.Name) != "Grace Murray" || str(r.GivenName) != "Grace" || str(r.FamilyName) != "Murray" || r.ObjVersion != v2.Stamp() {
			t.Errorf("customers_eu: name %s given %s family %s stamp %d, want Grace Murray / Grace / Murray / 2.0", str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion)
		}
		if loaded.Name != "Grace Murray" || loaded.GivenName != "Grace" {
			t.Errorf("the caller's model, read back: %+v", loaded)
		}
	})
}

// TestFallbackRunsHooksOnce: GORM runs BeforeUpdate and AfterUpdate once
// per Update; the update that runs again after a failed compare-and-set
// does not run them a second time, and UpdateColumn (which skips hooks)
// runs them on neither.
func TestFallbackRunsHooksOnce(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, cur, _, ids := dualWithThree(t, db)
		var loaded updateHookCustomer
		must(t, cur.First(&loaded, ids[0]).Error)
		must(t, old.Model(&CustomerV1{ID: ids[0]}).Update("name", "Augusta Lovelace").Error)
		b, a := beforeUpdates.Load(), afterUpdates.Load()
		must(t, cur.Model(&loaded).Update("family_name", "King").Error)
		wantEqual(t, "BeforeUpdate calls", beforeUpdates.Load()-b, int64(1))
		wantEqual(t, "AfterUpdate calls", afterUpdates.Load()-a, int64(1))
		wantRow(t, db, "after the fallback", ids[0], "Augusta King", "Augusta", "King", v2.Stamp())

		must(t, cur.First(&loaded, ids[0]).Error)
		must(t, old.Model(&CustomerV1{ID: ids[0]}).Update("name", "Ada Byron").Error)
		b, a = beforeUpdates.Load(), afterUpdates.Load()
		must(t, cur.Model(&loaded).UpdateColumn("family_name", "Noel").Error)
		wantEqual(t, "BeforeUpdate calls of UpdateColumn", beforeUpdates.Load()-b, int64(0))
		wantEqual(t, "AfterUpdate calls of UpdateColumn", afterUpdates.Load()-a, int64(0))
		wantRow(t, db, "after the UpdateColumn fallback", ids[0], "Ada Noel", "Ada", "Noel", v2.Stamp())
	})
}

// TestUnchangedUpdateIsNotAConflict: an update of a loaded model that
// writes the values the row already holds is one UPDATE that runs its
// hooks once, on every dialect; MySQL, which reports 0 changed rows for
// it, tells it from a conflict by a SELECT with the same conditions.
func TestUnchangedUpdateIsNotAConflict(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, cur, ids, updates := countingUpdates(t, db)
		must(t, cur.Model(&CustomerV2{ID: ids[0]}).Update("family_name", "King").Error) // stamped 2.0
		var loaded updateHookCustomer
		must(t, cur.First(&loaded, ids[0]).Error)
		b, a, u := beforeUpdates.Load(), afterUpdates.Load(), updates.Load()
		must(t, cur.Model(&loaded).Update("family_name", "King").Error)
		wantEqual(t, "BeforeUpdate calls", beforeUpdates.Load()-b, int64(1))
		wantEqual(t, "AfterUpdate calls", afterUpdates.Load()-a, int64(1))
		wantEqual(t, "UPDATEs sent", updates.Load()-u, int64(1))
		wantRow(t, db, "after the unchanged update", ids[0], "Ada King", "Ada", "King", v2.Stamp())
	})
}
