package compat_test

// L(c) on the read and query paths (deprecated columns left out, the typed
// error before any SQL), and L(m) upgrades on the same paths.

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/versions"
)

// pathShipment reaches CustomerV2 through Order (nested Joins "Order.Buyer").
type pathShipment struct {
	ID      uint `gorm:"primaryKey"`
	Label   string
	OrderID *uint
	Order   *Order `gorm:"foreignKey:OrderID"`
}

func (pathShipment) TableName() string { return "path_shipments" }

// sqlRecorder is a GORM logger that keeps the SQL of every statement.
type sqlRecorder struct {
	logger.Interface
	mu   sync.Mutex
	sqls []string
}

func (r *sqlRecorder) LogMode(logger.LogLevel) logger.Interface { return r }

func (r *sqlRecorder) Trace(_ context.Context, _ time.Time, fc func() (string, int64), _ error) {
	s, _ := fc()
	r.mu.Lock()
	r.sqls = append(r.sqls, s)
	r.mu.Unlock()
}

func (r *sqlRecorder) reset() { r.mu.Lock(); r.sqls = nil; r.mu.Unlock() }

// app returns the statements recorded since reset that are not tandem's own
// (the plugin's poller and heartbeat share the logger).
func (r *sqlRecorder) app() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, s := range r.sqls {
		if !strings.Contains(s, "tandem_") && s != "" {
			out = append(out, s)
		}
	}
	return out
}

type readPathsFixture struct {
	db          *dbtest.DB
	cur         *gorm.DB
	p           *compat.Plugin
	rec         *sqlRecorder
	ada, grace  uint // ada: written by 1.0 (stamped 1.0); grace: written by 2.0 in L(m)
	order, ord2 uint // order: buyer ada, customers ada and grace; ord2: buyer grace
	ship        uint // shipment of order
}

// readPathsSetup: 2.0 expanded over 1.0, a row written by 1.0 (Ada), a row
// written by 2.0 in L(m) (Grace), orders and a shipment referring to them;
// with contract, 2.0 is then flipped to contract-ready (L(c)).
func readPathsSetup(t *testing.T, db *dbtest.DB, contract bool) *readPathsFixture {
	t.Helper()
	v2ExpandedOverV1(t, db)
	db.Gorm.Config.DisableForeignKeyConstraintWhenMigrating = true // orders and customers refer to each other
	must(t, db.Gorm.AutoMigrate(&Order{}, &pathShipment{}))
	old, p1 := plugged(t, db, v1, compat.WithModels(&CustomerV1{}), compat.WithoutListen())
	ada := CustomerV1{Name: "Ada Lovelace", Email: "ada@example.com"}
	must(t, old.Create(&ada).Error)
	must(t, p1.Close())

	rec := &sqlRecorder{Interface: logger.Discard}
	g := db.Open(t)
	g.Logger = rec
	p := compat.New(v2, compat.WithModels(&CustomerV2{}), compat.WithoutListen(), compat.WithPollInterval(50*time.Millisecond))
	must(t, g.Use(p))
	t.Cleanup(func() { _ = p.Close() })
	grace := CustomerV2{GivenName: "Grace", FamilyName: "Hopper", Email: "grace@example.com"}
	must(t, g.Create(&grace).Error)

	o := Order{Label: "o1", BuyerID: &ada.ID}
	must(t, db.Gorm.Create(&o).Error)
	o2 := Order{Label: "o2", BuyerID: &grace.ID}
	must(t, db.Gorm.Create(&o2).Error)
	must(t, db.Gorm.Exec("UPDATE customers SET order_id = ? WHERE id IN (?, ?)", o.ID, ada.ID, grace.ID).Error)
	s := pathShipment{Label: "s1", OrderID: &o.ID}
	must(t, db.Gorm.Create(&s).Error)
	if r := raw(t, db, ada.ID); r.ObjVersion != v1.Stamp() || r.GivenName != nil {
		t.Fatalf("setup: Ada's row %+v", r)
	}
	if contract {
		setTo(t, db, p, v2, versions.StateContractReady)
		if p.Mode() != compat.ModeContract {
			t.Fatalf("setup: mode %s", p.Mode())
		}
	}
	rec.reset()
	return &readPathsFixture{db: db, cur: g, p: p, rec: rec, ada: ada.ID, grace: grace.ID, order: o.ID, ord2: o2.ID, ship: s.ID}
}

// wantDeprecated checks that err is the typed error naming CustomerV2.Name
// and 2.0, and that no statement of the application reached the database.
func (f *readPathsFixture) wantDeprecated(t *testing.T, what string, err error) {
	t.Helper()
	var de *compat.DeprecatedFieldError
	if !errors.As(err, &de) || !errors.Is(err, compat.ErrDeprecatedField) || de.Field != "Name" || de.Column != "name" || de.Release != v2 {
		t.Errorf("%s in L(c): err = %v, want *compat.DeprecatedFieldError for CustomerV2.Name (2.0)", what, err)
	}
	if sent := f.rec.app(); len(sent) > 0 {
		t.Errorf("%s in L(c): SQL was sent: %q", what, sent)
	}
	f.rec.reset()
}

func adaOK(c *CustomerV2) bool {
	return c != nil && c.GivenName == "Ada" && c.FamilyName == "Lovelace"
}

// TestContractDeleteDeprecatedCondition: a Delete whose struct or map
// conditions name the deprecated column fails before any SQL, like a
// query with the same conditions.
func TestContractDeleteDeprecatedCondition(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		f := readPathsSetup(t, db, true)
		f.wantDeprecated(t, "Where(struct).Delete", f.cur.Where(&CustomerV2{Name: "Grace Hopper"}).Delete(&CustomerV2{}).Error)
		f.wantDeprecated(t, "Where(map).Delete", f.cur.Where(map[string]any{"name": "Grace Hopper"}).Delete(&CustomerV2{}).Error)
		f.wantDeprecated(t, "Delete(model, map)", f.cur.Delete(&CustomerV2{}, map[string]any{"name": "Grace Hopper"}).Error)
		var n int64
		must(t, db.Gorm.Model(&CustomerV2{}).Where("id = ?", f.grace).Count(&n).Error)
		if n != 1 {
			t.Errorf("the row was deleted by its deprecated column in L(c)")
		}
	})
}

// TestContractGroupHavingDeprecated: Group("name") (GORM makes it a quoted
// column) and Having with a map condition name the deprecated column.
func TestContractGroupHavingDeprecated(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		f := readPathsSetup(t, db, true)
		var n int64
		f.wantDeprecated(t, "Group(name).Count", f.cur.Model(&CustomerV2{}).Group("name").Count(&n).Error)
		var rows []struct {
			Name string
			N    int64
		}
		f.wantDeprecated(t, "Group(name).Scan", f.cur.Model(&CustomerV2{}).Select("name", "count(*) AS n").Group("name").Scan(&rows).Error)
		f.wantDeprecated(t, "Having(map)", f.cur.Model(&CustomerV2{}).Group("email").Having(map[string]any{"name": "Grace Hopper"}).Count(&n).Error)
	})
}

// TestContractSubqueryDeprecated: a subquery built through GORM whose
// conditions or Select name the deprecated column. GORM builds the
// subquery in a session of its own and drops its error: without the check
// from the outer statement, it would send "IN ()".
func TestContractSubqueryDeprecated(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		f := readPathsSetup(t, db, true)
		var cs []CustomerV2
		sub := f.cur.Model(&CustomerV2{}).Select("id").Where(&CustomerV2{Name: "Grace Hopper"})
		f.wantDeprecated(t, "Where IN (subquery with struct condition)", f.cur.Where("id IN (?)", sub).Find(&cs).Error)
		sub2 := f.cur.Model(&CustomerV2{}).Select("name")
		var orders []Order
		f.wantDeprecated(t, "Where IN (subquery selecting Name)", f.cur.Where("label IN (?)", sub2).Find(&orders).Error)
	})
}

// TestContractJoinsConditionDeprecated: Joins with conditions given as a
// *gorm.DB (GORM puts its WHERE into the join's ON, its Select into the
// joined columns) naming the joined model's deprecated field.
func TestContractJoinsConditionDeprecated(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		f := readPathsSetup(t, db, true)
		var orders []Order
		f.wantDeprecated(t, "Joins(Buyer, Where(struct))", f.cur.Joins("Buyer", f.cur.Where(&CustomerV2{Name: "Grace Hopper"})).Find(&orders).Error)
		f.wantDeprecated(t, "Joins(Buyer, Where(map))", f.cur.Joins("Buyer", f.cur.Where(map[string]any{"name": "Grace Hopper"})).Find(&orders).Error)
		f.wantDeprecated(t, "Joins(Buyer, Select(Name))", f.cur.Joins("Buyer", f.cur.Select("ID", "Name")).Find(&orders).Error)
	})
}

// TestContractNamesInOtherCase: GORM's Schema.LookUpField falls back to the
// naming strategy, so Select("NAME") is GORM's column name; unquoted
// identifiers are case-insensitive on every dialect (Order("NAME desc")),
// quoted ones on MySQL and SQLite (map key "NAME"). Each names the
// deprecated column as much as "name" does. (Pluck("NAME") is refused:
// Pluck resolves the name through LookUpField before the plugin sees it.)
func TestContractNamesInOtherCase(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		f := readPathsSetup(t, db, true)
		var cs []CustomerV2
		f.wantDeprecated(t, `Select("NAME")`, f.cur.Select("id", "NAME").Find(&cs).Error)
		for _, c := range cs {
			if c.Name != "" {
				t.Errorf(`Select("NAME") in L(c) read the deprecated column: %+v`, c)
			}
		}
		f.wantDeprecated(t, `Order("NAME desc")`, f.cur.Order("NAME desc").Find(&cs).Error)
		var names []string
		f.wantDeprecated(t, `Pluck("NAME")`, f.cur.Model(&CustomerV2{}).Pluck("NAME", &names).Error)
		if len(names) > 0 {
			t.Errorf(`Pluck("NAME") in L(c) returned the deprecated values %q`, names)
		}
		f.wantDeprecated(t, `Where(map{"NAME"})`, f.cur.Where(map[string]any{"NAME": "Grace Hopper"}).Find(&cs).Error)
	})
}

// TestContractSelectStar: Select("*") names no deprecated
// field, so it is not refused, but in L(c) the plugin must still leave the
// deprecated column out (never SELECT *): the application must not see Name.
func TestContractSelectStar(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		f := readPathsSetup(t, db, true)
		for _, sel := range []string{"*", "customers.*"} {
			var c CustomerV2
			if err := f.cur.Select(sel).First(&c, f.grace).Error; err != nil {
				t.Errorf("Select(%q).First in L(c): %v", sel, err)
				continue
			}
			if c.Name != "" || c.GivenName != "Grace" {
				t.Errorf("Select(%q).First in L(c) read the deprecated column: %+v", sel, c)
			}
			sql := f.cur.Session(&gorm.Session{DryRun: true}).Select(sel).Find(&[]CustomerV2{}).Statement.SQL.String()
			if strings.Contains(sql, "*") || containsColumn(sql, "name") {
				t.Errorf("Select(%q) in L(c): SQL %s", sel, sql)
			}
		}
	})
}

// TestContractNestedJoins: a nested Joins ("Order.Buyer") loads
// CustomerV2 as a joined model: in L(c) its deprecated column is left out.
func TestContractNestedJoins(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		f := readPathsSetup(t, db, true)
		q := f.cur.Joins("Order.Buyer").Where("path_shipments.id = ?", f.ship)
		sql := q.Session(&gorm.Session{DryRun: true}).Find(&[]pathShipment{}).Statement.SQL.String()
		if strings.Contains(sql, "Order__Buyer__name") || !strings.Contains(sql, "Order__Buyer__given_name") {
			t.Errorf("nested Joins in L(c): SQL %s", sql)
		}
		// The buyer's row is stamped 1.0: it is upgraded, without Name.
		var s pathShipment
		must(t, f.cur.Joins("Order.Buyer").First(&s, f.ship).Error)
		if s.Order == nil || s.Order.Buyer == nil {
			t.Fatalf("nested Joins: %+v", s)
		}
		if b := s.Order.Buyer; b.Name != "" || !adaOK(b) {
			t.Errorf("nested Joins in L(c) loaded buyer %+v, want Ada Lovelace upgraded and Name empty", *b)
		}
	})
}

// TestDualNestedJoins: in L(m), a row stamped 1.0 loaded
// through a nested Joins passes through the upgrade converter, as with
// Joins("Buyer").
func TestDualNestedJoins(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		f := readPathsSetup(t, db, false)
		var s pathShipment
		must(t, f.cur.Joins("Order.Buyer").First(&s, f.ship).Error)
		if s.Order == nil || s.Order.Buyer == nil {
			t.Fatalf("nested Joins: %+v", s)
		}
		if b := s.Order.Buyer; !adaOK(b) || b.Name != "Ada Lovelace" {
			t.Errorf("nested Joins in L(m) loaded buyer %+v, want it upgraded to Ada / Lovelace", *b)
		}
	})
}

// TestContractTableAliasStaleRead: Table("customers AS c") reads the
// model's table under an alias; GORM sets Statement.Table to the alias.
// In L(c) a row stamped 1.0 is upgraded from a separate read of its
// deprecated columns, which must read the table, not the alias.
func TestContractTableAliasStaleRead(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		f := readPathsSetup(t, db, true)
		var cs []CustomerV2
		must(t, db.Gorm.Table("customers AS c").Where("c.id = ?", f.ada).Find(&cs).Error) // plain GORM reads it
		cs = nil
		if err := f.cur.Table("customers AS c").Where("c.id = ?", f.ada).Find(&cs).Error; err != nil {
			t.Fatalf("Table alias Find in L(c): %v", err)
		}
		if len(cs) != 1 || !adaOK(&cs[0]) || cs[0].Name != "" {
			t.Errorf("Table alias Find in L(c): %+v, want Ada upgraded without Name", cs)
		}
	})
}

// TestContractReadPaths: every read path hides the deprecated
// column in L(c) and upgrades the 1.0 row; every GORM way of naming it by
// field or column fails with the typed error before any SQL.
func TestContractReadPaths(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		f := readPathsSetup(t, db, true)
		cur := f.cur
		checkSQL := func(what string) {
			t.Helper()
			for _, s := range f.rec.app() {
				if !strings.Contains(s, "customers") || strings.Contains(s, ") IN ((") {
					continue // another table, or the plugin's read of a stale row's deprecated columns
				}
				if strings.Contains(s, "SELECT *") || strings.Contains(s, "\"name\"") || strings.Contains(s, "`name`") || strings.Contains(s, "__name") {
					t.Errorf("%s in L(c) sent %s", what, s)
				}
			}
			f.rec.reset()
		}
		check := func(what string, c *CustomerV2, err error) {
			t.Helper()
			if err != nil {
				t.Errorf("%s: %v", what, err)
				return
			}
			if c == nil || c.Name != "" || (c.ID == f.ada && !adaOK(c)) {
				t.Errorf("%s in L(c): %+v", what, c)
			}
			checkSQL(what)
		}
		var c CustomerV2
		check("First", &c, cur.First(&c, f.ada).Error)
		c = CustomerV2{}
		check("Take", &c, cur.Take(&c, "id = ?", f.ada).Error)
		c = CustomerV2{}
		check("Last", &c, cur.Where("id = ?", f.ada).Last(&c).Error)
		var cs []CustomerV2
		err := cur.Order("id").Find(&cs).Error
		for i := range cs {
			check("Find", &cs[i], err)
		}
		c = CustomerV2{}
		check("Scan", &c, cur.Model(&CustomerV2{}).Where("id = ?", f.ada).Scan(&c).Error)
		var batch []CustomerV2
		must(t, cur.FindInBatches(&batch, 1, func(tx *gorm.DB, n int) error {
			check("FindInBatches", &batch[0], nil)
			return nil
		}).Error)
		var po Order
		must(t, cur.Preload("Customers").Preload("Buyer").First(&po, f.order).Error)
		for i := range po.Customers {
			check("Preload has-many", &po.Customers[i], nil)
		}
		check("Preload belongs-to", po.Buyer, nil)
		var jo Order
		check("Joins", func() *CustomerV2 { must(t, cur.Joins("Buyer").First(&jo, f.order).Error); return jo.Buyer }(), nil)
		jo = Order{}
		check("InnerJoins", func() *CustomerV2 { must(t, cur.InnerJoins("Buyer").First(&jo, f.order).Error); return jo.Buyer }(), nil)
		var sh pathShipment
		must(t, cur.Joins("Order").Preload("Order.Buyer").First(&sh, f.ship).Error)
		if sh.Order == nil {
			t.Fatalf("Joins(Order).Preload(Order.Buyer): %+v", sh)
		}
		check("Joins + Preload of the joined model's association", sh.Order.Buyer, nil)
		c = CustomerV2{}
		check("FirstOrInit", &c, cur.Where(CustomerV2{Email: "ada@example.com"}).FirstOrInit(&c).Error)
		c = CustomerV2{}
		check("FirstOrCreate (found)", &c, cur.Where(CustomerV2{Email: "ada@example.com"}).FirstOrCreate(&c).Error)
		var n int64
		must(t, cur.Model(&CustomerV2{}).Count(&n).Error)
		must(t, cur.Model(&CustomerV2{}).Distinct("given_name").Count(&n).Error)
		var gn []sql.NullString
		must(t, cur.Model(&CustomerV2{}).Pluck("GivenName", &gn).Error)
		must(t, cur.Model(&CustomerV2{}).Distinct().Pluck("given_name", &gn).Error)
		cs = nil
		must(t, cur.Distinct().Find(&cs).Error)
		var ms []map[string]any
		must(t, cur.Model(&CustomerV2{}).Find(&ms).Error)
		for _, m := range ms {
			if _, ok := m["name"]; ok {
				t.Errorf("Find into maps in L(c) read name: %v", m)
			}
		}
		var small []struct {
			ID   uint
			Name string
		}
		must(t, cur.Model(&CustomerV2{}).Find(&small).Error)
		for _, s := range small {
			if s.Name != "" {
				t.Errorf("Find into a smaller struct read name: %+v", s)
			}
		}
		rows, err := cur.Model(&CustomerV2{}).Rows()
		must(t, err)
		cols, _ := rows.Columns()
		rows.Close()
		for _, col := range cols {
			if col == "name" {
				t.Errorf("Rows() in L(c) selected name: %v", cols)
			}
		}
		must(t, cur.Where("id IN (?)", cur.Model(&CustomerV2{}).Select("id").Where(&CustomerV2{Email: "ada@example.com"})).Find(&cs).Error)
		cs = nil
		must(t, cur.Select("ID", "GivenName", "obj_version").Find(&cs).Error) // field names
		checkSQL("subquery, Select, Count, Pluck, Distinct, maps, smaller struct, Rows")

		misuse := map[string]func() error{
			"Where struct":                 func() error { return cur.Where(&CustomerV2{Name: "x"}).Find(&cs).Error },
			"Where struct with field list": func() error { return cur.Where(&CustomerV2{}, "Name").Find(&cs).Error },
			"Where map by field name":      func() error { return cur.Where(map[string]any{"Name": "x"}).Find(&cs).Error },
			"Where map IN":                 func() error { return cur.Where(map[string]any{"name": []string{"x", "y"}}).Find(&cs).Error },
			"Where qualified map":          func() error { return cur.Where(map[string]any{"customers.name": "x"}).Find(&cs).Error },
			"Where group": func() error {
				return cur.Where(cur.Where(&CustomerV2{Email: "a"}).Or(&CustomerV2{Name: "x"})).Find(&cs).Error
			},
			"Not struct":         func() error { return cur.Not(&CustomerV2{Name: "x"}).Find(&cs).Error },
			"Not map":            func() error { return cur.Not(map[string]any{"name": "x"}).Find(&cs).Error },
			"Or struct":          func() error { return cur.Where("id = ?", 1).Or(CustomerV2{Name: "x"}).Find(&cs).Error },
			"Or map":             func() error { return cur.Where("id = ?", 1).Or(map[string]any{"name": "x"}).Find(&cs).Error },
			"inline struct cond": func() error { return cur.First(&c, &CustomerV2{Name: "x"}).Error },
			"inline map cond":    func() error { return cur.Find(&cs, map[string]any{"name": "x"}).Error },
			"clause.Eq": func() error {
				return cur.Where(clause.Eq{Column: clause.Column{Name: "name"}, Value: "x"}).Find(&cs).Error
			},
			"Select field name":    func() error { return cur.Select("ID", "Name").Find(&cs).Error },
			"Select qualified":     func() error { return cur.Select("customers.name").Find(&cs).Error },
			"Select quoted":        func() error { return cur.Select(`"name"`).Find(&cs).Error },
			"Distinct(name)":       func() error { return cur.Distinct("name").Find(&cs).Error },
			"Distinct(name).Count": func() error { var n int64; return cur.Model(&CustomerV2{}).Distinct("name").Count(&n).Error },
			"Omit field name":      func() error { return cur.Omit("Name").Find(&cs).Error },
			"Order qualified":      func() error { return cur.Order("customers.name").Find(&cs).Error },
			"OrderByColumn": func() error {
				return cur.Order(clause.OrderByColumn{Column: clause.Column{Name: "name"}, Desc: true}).Find(&cs).Error
			},
			"Pluck field name": func() error { var n []string; return cur.Model(&CustomerV2{}).Pluck("Name", &n).Error },
			"Count with struct cond": func() error {
				var n int64
				return cur.Model(&CustomerV2{}).Where(&CustomerV2{Name: "x"}).Count(&n).Error
			},
			"Scan with map cond": func() error { return cur.Model(&CustomerV2{}).Where(map[string]any{"name": "x"}).Scan(&cs).Error },
			"Rows with struct cond": func() error {
				r, err := cur.Model(&CustomerV2{}).Where(&CustomerV2{Name: "x"}).Rows()
				if r != nil {
					r.Close()
				}
				return err
			},
			"FindInBatches struct cond": func() error {
				return cur.Where(&CustomerV2{Name: "x"}).FindInBatches(&cs, 10, func(*gorm.DB, int) error { return nil }).Error
			},
			"FirstOrInit struct cond": func() error { return cur.FirstOrInit(&c, CustomerV2{Name: "x"}).Error },
			"FirstOrCreate map cond":  func() error { return cur.Where(map[string]any{"name": "x"}).FirstOrCreate(&c).Error },
			"Preload with Order": func() error {
				return cur.Preload("Customers", func(tx *gorm.DB) *gorm.DB { return tx.Order("name") }).Find(&[]Order{}).Error
			},
			"Preload inline struct cond": func() error {
				return cur.Preload("Customers", &CustomerV2{Name: "x"}).Find(&[]Order{}).Error
			},
		}
		for name, fn := range misuse {
			f.rec.reset()
			err := fn()
			var de *compat.DeprecatedFieldError
			if !errors.As(err, &de) || de.Column != "name" || de.Field != "Name" || de.Release != v2 {
				t.Errorf("%s: %v", name, err)
			}
			for _, s := range f.rec.app() {
				if strings.Contains(s, "customers") {
					t.Errorf("%s: SQL sent to customers: %s", name, s)
				}
			}
		}
	})
}

// TestDualReadPaths: in L(m), the 1.0 row is upgraded on every
// path that loads models.
func TestDualReadPaths(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		f := readPathsSetup(t, db, false)
		cur := f.cur
		check := func(what string, c *CustomerV2) {
			t.Helper()
			if !adaOK(c) || c.Name != "Ada Lovelace" {
				t.Errorf("%s in L(m): %+v", what, c)
			}
		}
		var c CustomerV2
		must(t, cur.Model(&CustomerV2{}).Where("id = ?", f.ada).Scan(&c).Error)
		check("Scan with Model", &c)
		c = CustomerV2{}
		must(t, cur.Table("customers").Where("id = ?", f.ada).Scan(&c).Error)
		check("Table().Scan", &c)
		var ptrs []*CustomerV2
		must(t, cur.Model(&CustomerV2{}).Where("id = ?", f.ada).Scan(&ptrs).Error)
		if len(ptrs) != 1 {
			t.Fatalf("Scan into pointers: %d", len(ptrs))
		}
		check("Scan into pointers", ptrs[0])
		var po Order
		must(t, cur.Preload("Customers", "id = ?", f.ada).Preload("Buyer").First(&po, f.order).Error)
		check("Preload has-many", &po.Customers[0])
		check("Preload belongs-to", po.Buyer)
		var jo Order
		must(t, cur.Joins("Buyer").First(&jo, f.order).Error)
		check("Joins", jo.Buyer)
		var jos []Order
		must(t, cur.Joins("Buyer").Order("orders.id").Find(&jos).Error)
		check("Joins into a slice", jos[0].Buyer)
		var sh pathShipment
		must(t, cur.Joins("Order").Preload("Order.Buyer").First(&sh, f.ship).Error)
		check("Joins + Preload of the joined model's association", sh.Order.Buyer)
		var batch []CustomerV2
		must(t, cur.Where("id = ?", f.ada).FindInBatches(&batch, 1, func(*gorm.DB, int) error { check("FindInBatches", &batch[0]); return nil }).Error)
		c = CustomerV2{}
		must(t, cur.Where(CustomerV2{Email: "ada@example.com"}).FirstOrInit(&c).Error)
		check("FirstOrInit", &c)
		c = CustomerV2{}
		must(t, cur.Where(CustomerV2{Email: "ada@example.com"}).FirstOrCreate(&c).Error)
		check("FirstOrCreate", &c)
		c = CustomerV2{}
		must(t, cur.Select("*").First(&c, f.ada).Error)
		check("Select(*)", &c)
		if r := raw(t, db, f.ada); r.ObjVersion != v1.Stamp() || r.GivenName != nil {
			t.Errorf("a read wrote the row: %+v", r)
		}
	})
}

// TestJoinedSelectWithoutStamp: docs/compat.md says a read whose
// column list leaves obj_version out is not converted (the plugin cannot
// tell a 1.x row from a 2.0 one). Joins("Buyer", db.Select(...)) without
// obj_version loads a buyer with a zero stamp; the plugin upgrades it
// anyway, overwriting the columns read.
func TestJoinedSelectWithoutStamp(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		t.Run("L(m)", func(t *testing.T) {
			f := readPathsSetup(t, db, false)
			var o Order
			must(t, f.cur.Joins("Buyer", f.cur.Select("id", "given_name", "family_name")).First(&o, f.ord2).Error)
			if o.Buyer == nil || o.Buyer.GivenName != "Grace" || o.Buyer.FamilyName != "Hopper" {
				t.Errorf("L(m) Joins with a Select without the stamp: buyer %+v, want the given and family names as read (Grace Hopper)", o.Buyer)
			}
		})
	})
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		t.Run("L(c)", func(t *testing.T) {
			f := readPathsSetup(t, db, true)
			// In L(c) Name is no longer written: it goes stale.
			must(t, f.cur.Model(&CustomerV2{ID: f.grace}).Update("family_name", "Murray").Error)
			if r := raw(t, db, f.grace); str(r.FamilyName) != "Murray" || str(r.Name) != "Grace Hopper" {
				t.Fatalf("setup: %+v", r)
			}
			var o Order
			must(t, f.cur.Joins("Buyer", f.cur.Select("id", "given_name", "family_name")).First(&o, f.ord2).Error)
			if o.Buyer == nil || o.Buyer.GivenName != "Grace" || o.Buyer.FamilyName != "Murray" {
				t.Errorf("L(c) Joins with a Select without the stamp: buyer %+v, want Grace Murray as stored", o.Buyer)
			}
		})
	})
}

// TestScanWithJoins: Scan fills the joined struct as Find does;
// the joined model is converted in L(m) and hides Name in L(c).
func TestScanWithJoins(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		t.Run("L(m)", func(t *testing.T) {
			f := readPathsSetup(t, db, false)
			var o Order
			must(t, f.cur.Model(&Order{}).Joins("Buyer").Where("orders.id = ?", f.order).Scan(&o).Error)
			if o.Buyer == nil || !adaOK(o.Buyer) {
				t.Errorf("L(m) Joins + Scan: buyer %+v, want Ada upgraded", o.Buyer)
			}
		})
	})
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		t.Run("L(c)", func(t *testing.T) {
			f := readPathsSetup(t, db, true)
			var o Order
			must(t, f.cur.Model(&Order{}).Joins("Buyer").Where("orders.id = ?", f.order).Scan(&o).Error)
			if o.Buyer == nil || !adaOK(o.Buyer) || o.Buyer.Name != "" {
				t.Errorf("L(c) Joins + Scan: buyer %+v, want Ada upgraded without Name", o.Buyer)
			}
		})
	})
}
