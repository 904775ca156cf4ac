package compat_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/model"
)

// pathInvoice is a stamped model (it declares no field of its own) that
// joins CustomerV2.
type pathInvoice struct {
	ID      uint `gorm:"primaryKey"`
	Label   string
	BuyerID *uint
	Buyer   *CustomerV2 `gorm:"foreignKey:BuyerID"`
	model.Stamp
}

func (pathInvoice) TableName() string { return "path_invoices" }

// invoiceOf adds an invoice whose buyer is Ada (stamped 1.0).
func invoiceOf(t *testing.T, db *dbtest.DB, f *readPathsFixture) uint {
	t.Helper()
	must(t, db.Gorm.AutoMigrate(&pathInvoice{}))
	inv := pathInvoice{Label: "i1", BuyerID: &f.ada}
	must(t, db.Gorm.Create(&inv).Error)
	f.rec.reset()
	return inv.ID
}

// TestContractJoinsConditionEveryPath: the conditions of a Joins that
// name the joined model's deprecated field are refused before any SQL on
// every read path (Find on a stamped model, Scan, a nested Joins, GORM's
// generic API), and conditions on its other fields are not.
func TestContractJoinsConditionEveryPath(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		f := readPathsSetup(t, db, true)
		invoiceOf(t, db, f)
		cur := f.cur
		var invs []pathInvoice
		f.wantDeprecated(t, "stamped model: Joins(Buyer, Where(map))", cur.Joins("Buyer", cur.Where(map[string]any{"name": "x"})).Find(&invs).Error)
		f.wantDeprecated(t, "stamped model: Joins(Buyer, Omit(Name))", cur.Joins("Buyer", cur.Omit("Name")).Find(&invs).Error)
		f.wantDeprecated(t, "stamped model: InnerJoins(Buyer, Where(struct))", cur.InnerJoins("Buyer", cur.Where(&CustomerV2{Name: "x"})).Find(&invs).Error)
		var o Order
		f.wantDeprecated(t, "Joins(Buyer, Where(struct)).Scan", cur.Model(&Order{}).Joins("Buyer", cur.Where(&CustomerV2{Name: "x"})).Scan(&o).Error)
		var n int64
		f.wantDeprecated(t, "Joins(Buyer, Where(map)).Count", cur.Model(&Order{}).Joins("Buyer", cur.Where(map[string]any{"name": "x"})).Count(&n).Error)
		f.wantDeprecated(t, "Joins(Order.Buyer, Select(Name))", cur.Joins("Order.Buyer", cur.Select("ID", "Name")).Find(&[]pathShipment{}).Error)
		_, err := gorm.G[Order](cur).Joins(clause.LeftJoin.Association("Buyer"), func(db gorm.JoinBuilder, _, _ clause.Table) error {
			db.Where(map[string]any{"name": "x"})
			return nil
		}).Find(context.Background())
		f.wantDeprecated(t, "gorm.G Joins with Where(map)", err)

		must(t, cur.Joins("Buyer", cur.Where(map[string]any{"email": "ada@example.com"})).Find(&invs).Error)
		if len(invs) != 1 || !adaOK(invs[0].Buyer) || invs[0].Buyer.Name != "" {
			t.Errorf("Joins(Buyer, Where(email)) in L(c): %+v", invs)
		}
		var orders []Order
		must(t, cur.Joins("Buyer", cur.Select("ID", "GivenName")).Find(&orders).Error)
	})
}

// TestJoinedModelOfStampedModel: a stamped model's joined model is
// converted like an unstamped one's.
func TestJoinedModelOfStampedModel(t *testing.T) {
	for _, contract := range []bool{false, true} {
		dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
			f := readPathsSetup(t, db, contract)
			id := invoiceOf(t, db, f)
			var inv pathInvoice
			must(t, f.cur.Joins("Buyer").First(&inv, id).Error)
			if b := inv.Buyer; !adaOK(b) || (b.Name != "") != !contract {
				t.Errorf("Joins(Buyer) of a stamped model (contract %v): %+v", contract, b)
			}
		})
	}
}

// TestNestedJoinsAliases: a nested model joined after its parent was
// joined by an entry of its own, under the alias GORM's generic API gives
// it, and filled by Scan, is converted in L(m) and L(c), and in L(c) its
// deprecated column is not selected.
func TestNestedJoinsAliases(t *testing.T) {
	for _, contract := range []bool{false, true} {
		dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
			f := readPathsSetup(t, db, contract)
			check := func(what string, s *pathShipment) {
				t.Helper()
				if s.Order == nil || s.Order.Buyer == nil {
					t.Errorf("%s: %+v", what, s)
					return
				}
				if b := s.Order.Buyer; !adaOK(b) || (b.Name != "") != !contract {
					t.Errorf("%s (contract %v): buyer %+v", what, contract, *b)
				}
			}
			var s pathShipment
			must(t, f.cur.Joins("Order").Joins("Order.Buyer").First(&s, f.ship).Error)
			check(`Joins("Order").Joins("Order.Buyer")`, &s)

			s = pathShipment{}
			must(t, f.cur.Model(&pathShipment{}).Joins("Order.Buyer").Where("path_shipments.id = ?", f.ship).Scan(&s).Error)
			check(`Joins("Order.Buyer").Scan`, &s)

			f.rec.reset()
			g, err := gorm.G[pathShipment](f.cur).Joins(clause.LeftJoin.Association("Order.Buyer").As("b"), nil).
				Where("path_shipments.id = ?", f.ship).First(context.Background())
			must(t, err)
			check(`gorm.G Joins("Order.Buyer") As("b")`, &g)
			seen := false
			for _, sql := range f.rec.app() {
				if strings.Contains(sql, "`b__given_name`") || strings.Contains(sql, `"b__given_name"`) {
					seen = true
					if strings.Contains(sql, "b__name") == contract {
						t.Errorf("gorm.G Joins As(b) (contract %v): SQL %s", contract, sql)
					}
				}
			}
			if !seen {
				t.Errorf("gorm.G Joins As(b): no statement selected b__given_name: %q", f.rec.app())
			}
		})
	}
}

// TestScanJoinedSelectWithoutStamp: as with Find, a Scan's joined model
// whose stamp was not selected is left as read.
func TestScanJoinedSelectWithoutStamp(t *testing.T) {
	for _, contract := range []bool{false, true} {
		dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
			f := readPathsSetup(t, db, contract)
			var o Order
			must(t, f.cur.Model(&Order{}).Joins("Buyer", f.cur.Select("id", "given_name", "family_name")).Where("orders.id = ?", f.ord2).Scan(&o).Error)
			if o.Buyer == nil || o.Buyer.GivenName != "Grace" || o.Buyer.FamilyName != "Hopper" {
				t.Errorf("Joins with a Select without the stamp, Scan (contract %v): buyer %+v, want Grace Hopper as read", contract, o.Buyer)
			}
		})
	}
}

// TestContractTableExprStaleRead: under other Table expressions (an
// alias without AS, a subquery) and with Scan, a row stamped 1.0 is still
// upgraded in L(c) from its table's deprecated columns.
func TestContractTableExprStaleRead(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		f := readPathsSetup(t, db, true)
		check := func(what string, cs []CustomerV2, err error) {
			t.Helper()
			if err != nil {
				t.Errorf("%s in L(c): %v", what, err)
				return
			}
			if len(cs) != 1 || !adaOK(&cs[0]) || cs[0].Name != "" {
				t.Errorf("%s in L(c): %+v, want Ada upgraded without Name", what, cs)
			}
		}
		var cs []CustomerV2
		err := f.cur.Table("customers c").Where("c.id = ?", f.ada).Find(&cs).Error
		check("Table(customers c)", cs, err)
		cs = nil
		err = f.cur.Table("(?) AS c", f.cur.Model(&CustomerV2{})).Where("c.id = ?", f.ada).Find(&cs).Error
		check("Table((subquery) AS c)", cs, err)
		var c CustomerV2
		err = f.cur.Table("customers AS c").Where("c.id = ?", f.ada).Scan(&c).Error
		check("Table(customers AS c).Scan", []CustomerV2{c}, err)
	})
}

// TestContractScanLogsItsSQL: in L(c) the read of a scanned row's
// deprecated columns runs while Scan reports its statement to the logger;
// the logger still gets the Scan's own SQL, and then that read's, as it
// does for Find (GORM's Scan runs with a recorder for a logger).
func TestContractScanLogsItsSQL(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		f := readPathsSetup(t, db, true)
		var c CustomerV2
		must(t, f.cur.Model(&CustomerV2{}).Where("id = ?", f.ada).Scan(&c).Error)
		if !adaOK(&c) {
			t.Errorf("Scan in L(c): %+v", c)
		}
		var o Order
		must(t, f.cur.Model(&Order{}).Joins("Buyer").Where("orders.id = ?", f.order).Scan(&o).Error)
		sent := f.rec.app()
		staleRead := func(s string) bool { return strings.Contains(s, ") IN ((") && strings.Contains(s, "name") }
		if len(sent) != 4 || !strings.Contains(sent[0], "WHERE id = ") || !staleRead(sent[1]) ||
			!strings.Contains(sent[2], "WHERE orders.id = ") || !staleRead(sent[3]) {
			t.Errorf("Scan in L(c) logged %q, want each Scan's statement, then its read of Ada's deprecated column", sent)
		}
	})
}

// TestRowsLeaveTheirModelAlone: Row and Rows hand the rows to the caller,
// who scans them later, so the plugin converts nothing when their
// statement ends: the model they were given is not upgraded (in L(m)) and
// no read of its deprecated columns is sent (in L(c)), though the
// statements read the stamp of Ada's row, written by 1.0.
func TestRowsLeaveTheirModelAlone(t *testing.T) {
	for _, contract := range []bool{false, true} {
		name := "L(m)"
		if contract {
			name = "L(c)"
		}
		t.Run(name, func(t *testing.T) {
			dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
				f := readPathsSetup(t, db, contract)
				given := CustomerV2{ID: f.ada, Name: "Ada Lovelace"}
				given.ObjVersion = v1.Stamp()
				rows, err := f.cur.Model(&given).Rows()
				must(t, err)
				cols, err := rows.Columns()
				must(t, err)
				n := 0
				for rows.Next() {
					n++
				}
				must(t, rows.Close())
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				must(t, f.cur.Model(&given).Row().Scan(ptrs...))
				if n != 1 || !slices.Contains(cols, "obj_version") {
					t.Errorf("Rows: %d row(s) of %v, want Ada's, with obj_version", n, cols)
				}
				if given.GivenName != "" || given.FamilyName != "" || given.Name != "Ada Lovelace" || given.ObjVersion != v1.Stamp() {
					t.Errorf("the model given to Rows and Row was converted: %+v", given)
				}
				if sent := f.rec.app(); len(sent) != 2 {
					t.Errorf("Rows and Row sent %q, want their two statements and nothing else", sent)
				}
			})
		})
	}
}
