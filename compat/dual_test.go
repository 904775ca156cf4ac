package compat_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/versions"
)

var v1, v2 = versions.MustParse("1.0"), versions.MustParse("2.0")

// setTo moves release r to state s and waits until plugin p sees it.
func setTo(t *testing.T, db *dbtest.DB, p *compat.Plugin, r versions.Version, s versions.State) time.Duration {
	t.Helper()
	changed := p.Changed()
	start := time.Now()
	must(t, store.Transition(context.Background(), db.Gorm, r, s, "test"))
	select {
	case <-changed:
	case <-time.After(30 * time.Second):
		t.Fatalf("plugin of %s did not see %s become %s", p.Release(), r, s)
	}
	if got := p.State(); got != s && p.Release() == r {
		t.Fatalf("plugin sees %s, want %s", got, s)
	}
	return time.Since(start)
}

type rawRow struct {
	Name       *string
	GivenName  *string
	FamilyName *string
	Email      *string
	ObjVersion int64
}

func raw(t *testing.T, db *dbtest.DB, id uint) rawRow {
	t.Helper()
	var r rawRow
	must(t, db.Gorm.Raw("SELECT name, given_name, family_name, email, obj_version FROM customers WHERE id = ?", id).Scan(&r).Error)
	return r
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestDualModel(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		must(t, db.Gorm.AutoMigrate(&CustomerV1{}, &Order{}))
		must(t, store.Ensure(ctx, db.Gorm))
		must(t, store.ForceState(ctx, db.Gorm, v1, versions.StateContracted, "test setup"))
		old, _ := plugged(t, db, v1, compat.WithModels(&CustomerV1{}))

		ada := CustomerV1{Name: "Ada Lovelace", Email: "ada@example.com"}
		must(t, old.Create(&ada).Error)

		// Expand 2.0.
		must(t, db.Gorm.AutoMigrate(&CustomerV2{}))
		must(t, store.Transition(ctx, db.Gorm, v2, versions.StateExpanding, "test"))
		must(t, store.Transition(ctx, db.Gorm, v2, versions.StateExpanded, "test"))
		cur, p2 := plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithPollInterval(50*time.Millisecond))
		if p2.Mode() != compat.ModeDual {
			t.Fatalf("2.0 starts in %s", p2.Mode())
		}

		t.Run("L(m) reads upgrade rows written by 1.0", func(t *testing.T) {
			check := func(how string, c CustomerV2) {
				t.Helper()
				if c.GivenName != "Ada" || c.FamilyName != "Lovelace" || c.Name != "Ada Lovelace" {
					t.Errorf("%s: %+v", how, c)
				}
			}
			var c CustomerV2
			must(t, cur.First(&c, ada.ID).Error)
			check("First", c)
			c = CustomerV2{}
			must(t, cur.Take(&c, "id = ?", ada.ID).Error)
			check("Take", c)
			c = CustomerV2{}
			must(t, cur.Last(&c).Error)
			check("Last", c)
			var cs []CustomerV2
			must(t, cur.Find(&cs).Error)
			if len(cs) != 1 {
				t.Fatalf("Find: %d rows", len(cs))
			}
			check("Find", cs[0])
			var ptrs []*CustomerV2
			must(t, cur.Find(&ptrs).Error)
			check("Find pointers", *ptrs[0])
			c = CustomerV2{}
			must(t, cur.Model(&CustomerV2{}).Where("id = ?", ada.ID).Scan(&c).Error)
			check("Scan", c)
			var scanned []CustomerV2
			must(t, cur.Raw("SELECT * FROM customers WHERE id = ?", ada.ID).Scan(&scanned).Error)
			if len(scanned) != 1 {
				t.Fatalf("Raw Scan: %d rows", len(scanned))
			}
			check("Raw Scan", scanned[0])
			var batches []CustomerV2
			must(t, cur.FindInBatches(&batches, 10, func(tx *gorm.DB, n int) error {
				check("FindInBatches", batches[0])
				return nil
			}).Error)

			o := Order{Label: "o1", BuyerID: &ada.ID}
			must(t, db.Gorm.Create(&o).Error)
			must(t, db.Gorm.Exec("UPDATE customers SET order_id = ? WHERE id = ?", o.ID, ada.ID).Error)
			var po Order
			must(t, cur.Preload("Customers").First(&po, o.ID).Error)
			if len(po.Customers) != 1 {
				t.Fatalf("Preload: %+v", po)
			}
			check("Preload", po.Customers[0])
			var jo Order
			must(t, cur.Joins("Buyer").First(&jo, o.ID).Error)
			if jo.Buyer == nil {
				t.Fatalf("Joins: no buyer")
			}
			check("Joins", *jo.Buyer)
			if got := raw(t, db, ada.ID); got.GivenName != nil || got.ObjVersion != v1.Stamp() {
				t.Errorf("a read wrote to the row: %+v", got)
			}
		})

		var grace CustomerV2
		t.Run("L(m) writes fill the deprecated column for 1.0", func(t *testing.T) {
			grace = CustomerV2{GivenName: "Grace", FamilyName: "Hopper", Email: "grace@example.com"}
			must(t, cur.Create(&grace).Error)
			r := raw(t, db, grace.ID)
			if str(r.Name) != "Grace Hopper" || str(r.GivenName) != "Grace" || r.ObjVersion != v2.Stamp() {
				t.Errorf("created row = name %s given %s stamp %d", str(r.Name), str(r.GivenName), r.ObjVersion)
			}
			var seen CustomerV1
			must(t, old.First(&seen, grace.ID).Error)
			if seen.Name != "Grace Hopper" {
				t.Errorf("1.0 reads %q", seen.Name)
			}
			// 1.0 renames her; 2.0 reads the new name.
			must(t, old.Model(&seen).Update("name", "Grace Brewster").Error)
			if r := raw(t, db, grace.ID); r.ObjVersion != v1.Stamp() {
				t.Errorf("1.0 update stamped %d", r.ObjVersion)
			}
			var g CustomerV2
			must(t, cur.First(&g, grace.ID).Error)
			if g.GivenName != "Grace" || g.FamilyName != "Brewster" {
				t.Errorf("2.0 reads %+v", g)
			}
			// A partial update of a new field keeps the old one right.
			must(t, cur.Model(&CustomerV2{ID: grace.ID}).Update("family_name", "Murray").Error)
			r = raw(t, db, grace.ID)
			if str(r.Name) != "Grace Murray" || str(r.FamilyName) != "Murray" || str(r.GivenName) != "Grace" || r.ObjVersion != v2.Stamp() {
				t.Errorf("partial update: name %s given %s family %s stamp %d", str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion)
			}
			// Save of a full struct downgrades.
			g = CustomerV2{}
			must(t, cur.First(&g, grace.ID).Error)
			g.GivenName = "Amazing"
			must(t, cur.Save(&g).Error)
			if r := raw(t, db, grace.ID); str(r.Name) != "Amazing Murray" || r.ObjVersion != v2.Stamp() {
				t.Errorf("Save: name %s stamp %d", str(r.Name), r.ObjVersion)
			}
			// A partial update of another column leaves a 1.0 row's stamp alone.
			must(t, cur.Model(&CustomerV2{ID: ada.ID}).Update("email", "ada@lovelace.org").Error)
			if r := raw(t, db, ada.ID); r.ObjVersion != v1.Stamp() || r.GivenName != nil {
				t.Errorf("unrelated update re-stamped a 1.0 row: %+v", r)
			}
			// A mass update of a new column cannot be converted.
			err := cur.Model(&CustomerV2{}).Where("email <> ''").Update("given_name", "X").Error
			if !errors.Is(err, compat.ErrUnconvertibleUpdate) {
				t.Errorf("mass update of a new column: %v", err)
			}
		})

		t.Run("L(m) reads that leave the stamp out are not converted", func(t *testing.T) {
			// Without obj_version the plugin cannot tell a 1.0 row from a
			// 2.0 one: converting would overwrite the columns read.
			var c CustomerV2
			must(t, cur.Select("id", "given_name", "family_name").First(&c, grace.ID).Error)
			if c.GivenName != "Amazing" || c.FamilyName != "Murray" {
				t.Errorf("Select without the stamp: %+v", c)
			}
			var sc CustomerV2
			must(t, cur.Raw("SELECT id, given_name, family_name FROM customers WHERE id = ?", grace.ID).Scan(&sc).Error)
			if sc.GivenName != "Amazing" || sc.FamilyName != "Murray" {
				t.Errorf("Raw Scan without the stamp: %+v", sc)
			}
			// With the stamp, a 1.0 row is converted as usual.
			var a CustomerV2
			must(t, cur.Select("id", "name", "given_name", "family_name", "obj_version").First(&a, ada.ID).Error)
			if a.GivenName != "Ada" || a.FamilyName != "Lovelace" {
				t.Errorf("Select with the stamp: %+v", a)
			}
		})

		t.Run("L(c) hides the deprecated field", func(t *testing.T) {
			latency := setTo(t, db, p2, v2, versions.StateContractReady)
			t.Logf("flip observed after %s (polling every 50ms)", latency)
			if p2.Mode() != compat.ModeContract {
				t.Fatalf("mode %s", p2.Mode())
			}
			sql := cur.Session(&gorm.Session{DryRun: true}).Find(&[]CustomerV2{}).Statement.SQL.String()
			if strings.Contains(sql, "*") || containsColumn(sql, "name") || !containsColumn(sql, "given_name") {
				t.Errorf("L(c) SELECT = %s", sql)
			}
			var cs []CustomerV2
			must(t, cur.Order("id").Find(&cs).Error)
			for _, c := range cs {
				if c.Name != "" {
					t.Errorf("L(c) read the deprecated field: %+v", c)
				}
			}
			// A row still stamped 1.0 (not backfilled yet) is upgraded on read
			// in L(c) too, without the application seeing Name.
			var a CustomerV2
			must(t, cur.First(&a, ada.ID).Error)
			if a.GivenName != "Ada" || a.FamilyName != "Lovelace" || a.Name != "" {
				t.Errorf("L(c) read of a 1.0 row: %+v", a)
			}
			// So are rows loaded by Joins and filled by Scan.
			var jo1 Order
			must(t, cur.Joins("Buyer").Where("orders.buyer_id = ?", ada.ID).First(&jo1).Error)
			if jo1.Buyer == nil || jo1.Buyer.GivenName != "Ada" || jo1.Buyer.FamilyName != "Lovelace" || jo1.Buyer.Name != "" {
				t.Errorf("L(c) Joins of a 1.0 row: %+v", jo1.Buyer)
			}
			var sa CustomerV2
			must(t, cur.Model(&CustomerV2{}).Where("id = ?", ada.ID).Scan(&sa).Error)
			if sa.GivenName != "Ada" || sa.FamilyName != "Lovelace" || sa.Name != "" {
				t.Errorf("L(c) Scan of a 1.0 row: %+v", sa)
			}
			var ra []CustomerV2
			must(t, cur.Raw("SELECT * FROM customers WHERE id = ?", ada.ID).Scan(&ra).Error)
			if len(ra) != 1 || ra[0].GivenName != "Ada" || ra[0].FamilyName != "Lovelace" || ra[0].Name != "" {
				t.Errorf("L(c) Raw Scan of a 1.0 row: %+v", ra)
			}
			if r := raw(t, db, ada.ID); r.GivenName != nil || r.ObjVersion != v1.Stamp() {
				t.Errorf("an L(c) read wrote to the row: %+v", r)
			}
			// A partial update of it keeps both the update and the converted values.
			must(t, cur.Model(&CustomerV2{ID: ada.ID}).Update("family_name", "King").Error)
			if r := raw(t, db, ada.ID); str(r.GivenName) != "Ada" || str(r.FamilyName) != "King" || str(r.Name) != "Ada Lovelace" || r.ObjVersion != v2.MarkedStamp() {
				t.Errorf("L(c) partial update of a 1.0 row: name %s given %s family %s stamp %d", str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion)
			}
			lin := CustomerV2{GivenName: "Linus", FamilyName: "Torvalds"}
			must(t, cur.Create(&lin).Error)
			if r := raw(t, db, lin.ID); r.Name != nil && *r.Name != "" || r.ObjVersion != v2.MarkedStamp() {
				t.Errorf("L(c) create: name %s stamp %d (want marked %d)", str(r.Name), r.ObjVersion, v2.MarkedStamp())
			}
			must(t, cur.Model(&CustomerV2{ID: lin.ID}).Updates(CustomerV2{FamilyName: "T."}).Error)
			if r := raw(t, db, lin.ID); str(r.FamilyName) != "T." || r.ObjVersion != v2.MarkedStamp() {
				t.Errorf("L(c) update: %+v", r)
			}
			// Every way of naming the deprecated field fails before any SQL.
			misuse := map[string]func() error{
				"Where struct":  func() error { return cur.Where(&CustomerV2{Name: "x"}).Find(&[]CustomerV2{}).Error },
				"Where map":     func() error { return cur.Where(map[string]any{"name": "x"}).Find(&[]CustomerV2{}).Error },
				"Select":        func() error { return cur.Select("Name").Find(&[]CustomerV2{}).Error },
				"Omit":          func() error { return cur.Omit("name").Find(&[]CustomerV2{}).Error },
				"Order":         func() error { return cur.Order("name desc").Find(&[]CustomerV2{}).Error },
				"Pluck":         func() error { var n []string; return cur.Model(&CustomerV2{}).Pluck("name", &n).Error },
				"Updates map":   func() error { return cur.Model(&CustomerV2{ID: lin.ID}).Updates(map[string]any{"name": "x"}).Error },
				"Create Select": func() error { return cur.Select("Name", "GivenName").Create(&CustomerV2{GivenName: "n"}).Error },
			}
			for name, f := range misuse {
				err := f()
				var de *compat.DeprecatedFieldError
				if !errors.As(err, &de) || de.Column != "name" || de.Release != v2 || !errors.Is(err, compat.ErrDeprecatedField) {
					t.Errorf("%s: %v", name, err)
				}
			}
			if r := raw(t, db, lin.ID); str(r.FamilyName) != "T." {
				t.Errorf("a refused call changed the row: %+v", r)
			}
			// Joined models hide their deprecated columns too.
			var jo Order
			q := cur.Joins("Buyer").Where("orders.buyer_id IS NOT NULL")
			if sql := q.Session(&gorm.Session{DryRun: true}).Find(&[]Order{}).Statement.SQL.String(); strings.Contains(sql, "Buyer__name") || !strings.Contains(sql, "Buyer__given_name") {
				t.Errorf("L(c) Joins SELECT = %s", sql)
			}
			must(t, q.First(&jo).Error)
			if jo.Buyer == nil || jo.Buyer.Name != "" || jo.Buyer.Email == "" {
				t.Errorf("L(c) Joins: %+v", jo.Buyer)
			}
			// GORM's cached schema is untouched: a plain session still sees Name.
			var plain CustomerV2
			must(t, db.Gorm.First(&plain, grace.ID).Error)
			if plain.Name != "Amazing Murray" {
				t.Errorf("plain GORM reads %+v", plain)
			}
			// 1.0 still reads and writes.
			var o CustomerV1
			must(t, old.First(&o, grace.ID).Error)
			if o.Name != "Amazing Murray" {
				t.Errorf("1.0 in 2.0(c) reads %+v", o)
			}
		})

		t.Run("flip back resumes dual writes", func(t *testing.T) {
			setTo(t, db, p2, v2, versions.StateExpanded)
			if p2.Mode() != compat.ModeDual {
				t.Fatalf("mode %s", p2.Mode())
			}
			ken := CustomerV2{GivenName: "Ken", FamilyName: "Thompson"}
			must(t, cur.Create(&ken).Error)
			if r := raw(t, db, ken.ID); str(r.Name) != "Ken Thompson" || r.ObjVersion != v2.Stamp() {
				t.Errorf("after flip back: %+v", r)
			}
		})
	})
}

func containsColumn(sql, col string) bool {
	for _, q := range []string{`"` + col + `"`, "`" + col + "`", "." + col + " ", "." + col + ","} {
		if strings.Contains(sql, q) {
			return true
		}
	}
	return false
}

// TestFastPartialUpdate: a partial update of a new field on a model the
// caller loaded is written without reading the row again, and falls back to
// the locked read when the row changed in between.
func TestFastPartialUpdate(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		v2ExpandedOverV1(t, db)
		old, _ := plugged(t, db, v1, compat.WithModels(&CustomerV1{}))
		cur, _ := plugged(t, db, v2, compat.WithModels(&CustomerV2{}))

		c := CustomerV2{GivenName: "Ada", FamilyName: "Lovelace"}
		must(t, cur.Create(&c).Error)
		var loaded CustomerV2
		must(t, cur.First(&loaded, c.ID).Error)
		res := cur.Model(&loaded).Update("family_name", "King")
		must(t, res.Error)
		if res.RowsAffected != 1 {
			t.Errorf("RowsAffected = %d", res.RowsAffected)
		}
		if r := raw(t, db, c.ID); str(r.Name) != "Ada King" || str(r.FamilyName) != "King" || r.ObjVersion != v2.Stamp() {
			t.Errorf("fast path wrote %+v", r)
		}
		if loaded.Name != "Ada King" {
			t.Errorf("the caller's model shows %q", loaded.Name)
		}

		// 1.0 renames her after 2.0 loaded the row: the compare fails, the
		// slow path reads the new name and applies the update to it.
		var stale CustomerV2
		must(t, cur.First(&stale, c.ID).Error)
		must(t, old.Model(&CustomerV1{ID: c.ID}).Update("name", "Augusta Byron").Error)
		res = cur.Model(&stale).Update("family_name", "Noel")
		must(t, res.Error)
		if res.RowsAffected != 1 {
			t.Errorf("RowsAffected after the fallback = %d", res.RowsAffected)
		}
		if r := raw(t, db, c.ID); str(r.GivenName) != "Augusta" || str(r.FamilyName) != "Noel" || str(r.Name) != "Augusta Noel" || r.ObjVersion != v2.Stamp() {
			t.Errorf("after a concurrent 1.0 write: name %s given %s family %s stamp %d", str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion)
		}
		// A statement reused after the fallback keeps its own conditions.
		q := cur.Model(&CustomerV2{})
		var n int64
		must(t, q.Where("id = ?", c.ID).Count(&n).Error)
		if n != 1 {
			t.Errorf("count = %d", n)
		}
	})
}

// TestFastPartialUpdateFrom: the compare-and-set of a loaded model's
// update names its columns without the table, except when the UPDATE reads
// another table (UPDATE ... FROM, on PostgreSQL and SQLite), whose columns
// of the same names (here name and obj_version) would make them ambiguous.
func TestFastPartialUpdateFrom(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		if db.Dialect == dialect.MySQL {
			t.Skip("MySQL's UPDATE has no FROM clause in GORM")
		}
		v2ExpandedOverV1(t, db)
		cur, _ := plugged(t, db, v2, compat.WithModels(&CustomerV2{}))
		must(t, db.Gorm.Exec("CREATE TABLE customer_tags (tag_id integer PRIMARY KEY, name varchar(50), obj_version bigint)").Error)
		must(t, db.Gorm.Exec("INSERT INTO customer_tags (tag_id, name, obj_version) VALUES (1, 'vip', 0)").Error)

		c := CustomerV2{GivenName: "Ada", FamilyName: "Lovelace"}
		must(t, cur.Create(&c).Error)
		var loaded CustomerV2
		must(t, cur.First(&loaded, c.ID).Error)
		res := cur.Model(&loaded).Clauses(clause.From{Tables: []clause.Table{{Name: "customer_tags"}}}).
			Where("customer_tags.tag_id = ?", 1).Update("family_name", "King")
		must(t, res.Error)
		wantEqual(t, "rows updated", res.RowsAffected, int64(1))
		if r := raw(t, db, c.ID); str(r.Name) != "Ada King" || str(r.FamilyName) != "King" || r.ObjVersion != v2.Stamp() {
			t.Errorf("update with FROM wrote name %s family %s stamp %d", str(r.Name), str(r.FamilyName), r.ObjVersion)
		}
	})
}
