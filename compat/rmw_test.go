package compat_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// TestReadModifyWriteLocksRow: a partial update that the plugin converts by
// reading the row holds the row from the read to the write, also when the
// caller runs it outside a transaction (SkipDefaultTransaction). A 1.0
// writer that changes the row in between waits for the update to commit
// and then wins; before, its change was overwritten by values read before
// it. The update does not write the stamp again on a row that already
// carries it, and an update that fails after its UPDATE ran leaves the row
// as it was and no transaction open.
func TestReadModifyWriteLocksRow(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		old, ids := expandedWithThree(t, db)
		cur, _ := plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithPollInterval(50*time.Millisecond))

		// Between the plugin's read and GORM's UPDATE, a test callback runs
		// what it is armed with, and records the UPDATE statements.
		var between atomic.Pointer[func(*gorm.DB)]
		var updates []string
		must(t, cur.Callback().Update().After("tandem:update").Before("gorm:update").Register("test:between", func(tx *gorm.DB) {
			if f := between.Load(); f != nil && *f != nil {
				(*f)(tx)
			}
		}))
		var after atomic.Pointer[func(*gorm.DB)]
		must(t, cur.Callback().Update().After("gorm:update").Before("tandem:update_done").Register("test:record", func(tx *gorm.DB) {
			if tx.Statement.Table == "customers" {
				updates = append(updates, tx.Statement.SQL.String())
			}
			if f := after.Load(); f != nil && *f != nil {
				(*f)(tx)
			}
		}))
		arm := func(f func(*gorm.DB)) { between.Store(&f) }
		noTx := cur.Session(&gorm.Session{SkipDefaultTransaction: true})

		// A 1.0 instance renames the customer while 2.0's update of the
		// given name sits between its read and its write.
		done := make(chan error, 1)
		var finishedEarly bool
		arm(func(*gorm.DB) {
			go func() { done <- old.Model(&CustomerV1{ID: ids[0]}).Update("name", "Augusta King").Error }()
			select {
			case err := <-done:
				done <- err
				finishedEarly = true
			case <-time.After(300 * time.Millisecond):
			}
		})
		must(t, noTx.Model(&CustomerV2{ID: ids[0]}).Updates(CustomerV2{GivenName: "Countess"}).Error)
		arm(nil)
		select {
		case err := <-done:
			must(t, err)
		case <-time.After(30 * time.Second):
			t.Fatal("the 1.0 writer never finished")
		}
		if finishedEarly {
			t.Error("the 1.0 writer changed the row between the plugin's read and its write: the row was not locked")
		}
		r := raw(t, db, ids[0])
		if str(r.Name) != "Augusta King" || r.ObjVersion != v1.Stamp() {
			t.Errorf("after the 1.0 write that waited: name %s stamp %d, want the 1.0 write's (Augusta King, %d)", str(r.Name), r.ObjVersion, v1.Stamp())
		}
		var seen CustomerV2
		must(t, cur.First(&seen, ids[0]).Error)
		wantEqual(t, "2.0 reads the given name from the 1.0 write", seen.GivenName, "Augusta")

		// The first update stamps the row; the second finds it stamped and
		// leaves obj_version out of the UPDATE.
		updates = nil
		must(t, noTx.Model(&CustomerV2{ID: ids[1]}).Updates(CustomerV2{FamilyName: "Murray"}).Error)
		must(t, noTx.Model(&CustomerV2{ID: ids[1]}).Updates(CustomerV2{GivenName: "Amazing"}).Error)
		if len(updates) != 2 || !containsColumn(updates[0], "obj_version") || containsColumn(updates[1], "obj_version") {
			t.Errorf("UPDATE statements %q: want the first to set obj_version and the second not to", updates)
		}
		r = raw(t, db, ids[1])
		if str(r.Name) != "Amazing Murray" || str(r.GivenName) != "Amazing" || str(r.FamilyName) != "Murray" || r.ObjVersion != v2.Stamp() {
			t.Errorf("after two partial updates: name %s given %s family %s stamp %d", str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion)
		}

		// An update that fails after its UPDATE ran rolls the plugin's
		// transaction back: the row is unchanged and another writer is not
		// kept waiting.
		before := raw(t, db, ids[2])
		injected := errors.New("injected failure")
		fail := func(tx *gorm.DB) {
			if tx.RowsAffected != 1 {
				t.Errorf("the failing update changed %d rows before its error, want 1", tx.RowsAffected)
			}
			_ = tx.AddError(injected)
		}
		after.Store(&fail)
		err := noTx.Model(&CustomerV2{ID: ids[2]}).Updates(CustomerV2{GivenName: "Edsger W."}).Error
		after.Store(nil)
		if !errors.Is(err, injected) {
			t.Fatalf("failed update: %v, want the injected error", err)
		}
		show := func(r rawRow) string {
			return strings.Join([]string{str(r.Name), str(r.GivenName), str(r.FamilyName), strconv.FormatInt(r.ObjVersion, 10)}, "|")
		}
		wantEqual(t, "row after the failed update", show(raw(t, db, ids[2])), show(before))
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		must(t, old.WithContext(wctx).Model(&CustomerV1{ID: ids[2]}).Update("email", "ewd@example.com").Error)
	})
}

// customerV1Email is release 1.0's customer in a binary that still
// declares Email as added in 1.0: a model with transitional fields of its
// own, whose partial updates of other columns leave the stamp alone.
type customerV1Email struct {
	ID      uint `gorm:"primaryKey"`
	Name    string
	Email   string `tandem:"added=1.0"`
	OrderID *uint
	model.Stamp
}

func (customerV1Email) TableName() string { return "customers" }

// TestOlderBinaryRestampsNewerRows: while 2.0 runs in L(m), a 1.0 binary
// whose model declares fields of its own updates Name on a row 2.0 wrote.
// The row must not keep 2.0's stamp (2.0 would go on reading the given and
// family names 1.0 did not change): it gets 1.0's, and 2.0 upgrades it
// again. A row stamped older than 1.0 keeps its stamp.
func TestOlderBinaryRestampsNewerRows(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		v2ExpandedOverV1(t, db)
		old, _ := plugged(t, db, v1, compat.WithModels(&customerV1Email{}))
		cur, _ := plugged(t, db, v2, compat.WithModels(&CustomerV2{}))

		c := CustomerV2{GivenName: "Ada", FamilyName: "Lovelace", Email: "ada@example.com"}
		must(t, cur.Create(&c).Error)
		wantEqual(t, "stamp after 2.0's create", raw(t, db, c.ID).ObjVersion, v2.Stamp())
		must(t, old.Model(&customerV1Email{ID: c.ID}).Update("name", "Grace Hopper").Error)
		wantEqual(t, "stamp after 1.0's update of Name", raw(t, db, c.ID).ObjVersion, v1.Stamp())
		var seen CustomerV2
		must(t, cur.First(&seen, c.ID).Error)
		if seen.GivenName != "Grace" || seen.FamilyName != "Hopper" {
			t.Errorf("2.0 reads given %q family %q after 1.0 renamed her Grace Hopper", seen.GivenName, seen.FamilyName)
		}

		o := customerV1Email{Name: "Edsger Dijkstra", Email: "ewd@example.com"}
		must(t, old.Create(&o).Error)
		must(t, db.Gorm.Exec("UPDATE customers SET obj_version = ? WHERE id = ?", versions.MustParse("0.9").Stamp(), o.ID).Error)
		must(t, old.Model(&customerV1Email{ID: o.ID}).Update("name", "E. W. Dijkstra").Error)
		wantEqual(t, "an older row's stamp after 1.0's update", raw(t, db, o.ID).ObjVersion, versions.MustParse("0.9").Stamp())
	})
}

// v2ExpandedOverV1 makes the customers table of 2.0 and the release states
// of a 2.0 expand over a contracted 1.0.
func v2ExpandedOverV1(t *testing.T, db *dbtest.DB) {
	t.Helper()
	customersAt(t, db, relState{v1, versions.StateContracted}, relState{v2, versions.StateExpanded})
}

// relState is a release and the state a test puts it in.
type relState struct {
	rel   versions.Version
	state versions.State
}

// customersAt makes the customers table of 2.0 and forces the release
// states given.
func customersAt(t *testing.T, db *dbtest.DB, states ...relState) {
	t.Helper()
	ctx := context.Background()
	must(t, db.Gorm.AutoMigrate(&CustomerV2{}))
	must(t, store.Ensure(ctx, db.Gorm))
	for _, s := range states {
		must(t, store.ForceState(ctx, db.Gorm, s.rel, s.state, "test setup"))
	}
}

// hookedCustomer is CustomerV2 with an AfterFind hook that counts its
// calls in afterFinds.
type hookedCustomer struct{ CustomerV2 }

var afterFinds atomic.Int64

func (*hookedCustomer) AfterFind(*gorm.DB) error { afterFinds.Add(1); return nil }

// TestReadModifyWriteAfterFind: in L(m) the plugin reads the row of a
// partial update with a SELECT of its own, which runs no GORM query
// callback; for a model with an AfterFind hook it reads the row with a
// GORM query instead, so that the hook runs on it as on every read. Either
// way the row is upgraded, converted and written alike.
func TestReadModifyWriteAfterFind(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, ids := expandedWithThree(t, db)
		cur := db.Open(t)
		var queries atomic.Int64 // GORM queries of customers
		must(t, cur.Callback().Query().Before("gorm:query").Register("test:count_queries", func(tx *gorm.DB) {
			if tx.Statement.Table == "customers" {
				queries.Add(1)
			}
		}))
		p2 := compat.New(v2, compat.WithModels(&hookedCustomer{}), compat.WithPollInterval(50*time.Millisecond))
		must(t, cur.Use(p2))
		t.Cleanup(func() { _ = p2.Close() })

		before := afterFinds.Load()
		must(t, cur.Model(&hookedCustomer{CustomerV2{ID: ids[0]}}).Update("family_name", "Byron").Error)
		wantEqual(t, "AfterFind calls for a partial update of a hooked model", afterFinds.Load()-before, int64(1))
		must(t, cur.Model(&CustomerV2{ID: ids[1]}).Update("family_name", "Brewster").Error)
		wantEqual(t, "AfterFind calls after a partial update of a model without the hook", afterFinds.Load()-before, int64(1))
		wantEqual(t, "GORM queries (the hooked model's read only)", queries.Load(), int64(1))

		for id, want := range map[uint][3]string{ids[0]: {"Ada Byron", "Ada", "Byron"}, ids[1]: {"Grace Brewster", "Grace", "Brewster"}} {
			r := raw(t, db, id)
			if got := [3]string{str(r.Name), str(r.GivenName), str(r.FamilyName)}; got != want || r.ObjVersion != v2.Stamp() {
				t.Errorf("row %d: name, given, family %q stamp %d, want %q stamp %d", id, got, r.ObjVersion, want, v2.Stamp())
			}
		}
	})
}

// euCustomers makes customers_eu, a second table of CustomerV2's shape,
// with the row id written by 1.0 as Grace Hopper.
func euCustomers(t *testing.T, db *dbtest.DB, old *gorm.DB, id uint) {
	t.Helper()
	must(t, db.Gorm.Table("customers_eu").AutoMigrate(&CustomerV2{}))
	must(t, old.Table("customers_eu").Create(&CustomerV1{ID: id, Name: "Grace Hopper", Email: "grace@eu"}).Error)
}

func euRow(t *testing.T, db *dbtest.DB, id uint) rawRow {
	t.Helper()
	var r rawRow
	must(t, db.Gorm.Raw("SELECT name, given_name, family_name, email, obj_version FROM customers_eu WHERE id = ?", id).Scan(&r).Error)
	return r
}

// TestReadModifyWriteTable: a partial update of an added field on
// db.Table(...) reads the row it converts from that table, in L(m) (the
// lean read) and in L(c) (a GORM query), and leaves the model's table
// alone.
func TestReadModifyWriteTable(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, cur, p2, ids := dualWithThree(t, db)
		euCustomers(t, db, old, ids[0])
		check := func(mode string, wantName, wantGiven, wantFamily string, stamp int64) {
			t.Helper()
			if r := euRow(t, db, ids[0]); str(r.Name) != wantName || str(r.GivenName) != wantGiven || str(r.FamilyName) != wantFamily || r.ObjVersion != stamp {
				t.Errorf("%s: customers_eu row: name %s given %s family %s stamp %d, want %s / %s / %s / %d", mode, str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion, wantName, wantGiven, wantFamily, stamp)
			}
			wantRow(t, db, mode+": customers", ids[0], "Ada Lovelace", "<nil>", "<nil>", v1.Stamp())
		}
		must(t, cur.Table("customers_eu").Model(&CustomerV2{ID: ids[0]}).Update("family_name", "Murray").Error)
		check("L(m)", "Grace Murray", "Grace", "Murray", v2.Stamp())
		// The read of the model's own table is not the one cached for
		// customers_eu.
		must(t, cur.Model(&CustomerV2{ID: ids[1]}).Update("family_name", "Murray").Error)
		wantRow(t, db, "customers after customers_eu", ids[1], "Grace Murray", "Grace", "Murray", v2.Stamp())

		must(t, old.Table("customers_eu").Model(&CustomerV1{ID: ids[0]}).Update("name", "Grace Brewster").Error)
		setTo(t, db, p2, v2, versions.StateContractReady)
		must(t, cur.Table("customers_eu").Model(&CustomerV2{ID: ids[0]}).Update("family_name", "Hopper").Error)
		check("L(c)", "Grace Brewster", "Grace", "Hopper", v2.MarkedStamp())
	})
}
