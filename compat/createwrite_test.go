package compat_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/versions"
)

// dualWithThree makes the database of expandedWithThree (three customers
// written by 1.0: Ada Lovelace, Grace Hopper, Edsger Dijkstra; 2.0
// expanded) and returns the 1.0 instance, a 2.0 instance in L(m), its
// plugin, and the customers' ids.
func dualWithThree(t *testing.T, db *dbtest.DB) (old, cur *gorm.DB, p2 *compat.Plugin, ids []uint) {
	t.Helper()
	old, ids = expandedWithThree(t, db)
	cur, p2 = plugged(t, db, v2, compat.WithModels(&CustomerV2{}), compat.WithPollInterval(50*time.Millisecond))
	return old, cur, p2, ids
}

// nameForV1 returns the name release 1.0 reads for customer id.
func nameForV1(t *testing.T, old *gorm.DB, id uint) string {
	t.Helper()
	var c CustomerV1
	must(t, old.First(&c, id).Error)
	return c.Name
}

// wantRow fails the test unless the customer's row holds the name, given
// and family names (str's spelling: "<nil>" for NULL) and the stamp.
func wantRow(t *testing.T, db *dbtest.DB, what string, id uint, name, given, family string, stamp int64) {
	t.Helper()
	r := raw(t, db, id)
	if str(r.Name) != name || str(r.GivenName) != given || str(r.FamilyName) != family || r.ObjVersion != stamp {
		t.Errorf("%s: row %d holds name %s, given %s, family %s, stamp %d; want %s, %s, %s, %d",
			what, id, str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion, name, given, family, stamp)
	}
}

func idByEmail(t *testing.T, db *dbtest.DB, email string) uint {
	t.Helper()
	return uint(db.QueryInt(t, "SELECT id FROM customers WHERE email = ?", email))
}

// TestCreateMapDowngrades: a Create from a map through Model in L(m)
// fills the deprecated column from the added ones (the downgrade converter
// runs on a model holding the map's values), whether the map names the
// columns or the fields, one map or several; a map that names no
// transitional column is only stamped; a transitional column set by an
// SQL expression or under another spelling is refused before any SQL.
func TestCreateMapDowngrades(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, cur, _, _ := dualWithThree(t, db)
		must(t, cur.Model(&CustomerV2{}).Create(map[string]any{"given_name": "Grace", "family_name": "Murray", "email": "gm@example.com"}).Error)
		id := idByEmail(t, db, "gm@example.com")
		wantRow(t, db, "map by column", id, "Grace Murray", "Grace", "Murray", v2.Stamp())
		wantEqual(t, "1.0 reads", nameForV1(t, old, id), "Grace Murray")

		// Field names; a Name the map gives is the converter's to compute,
		// as in a Create of a struct.
		must(t, cur.Model(&CustomerV2{}).Create(map[string]any{"GivenName": "Alan", "FamilyName": "Turing", "Name": "Not Written", "Email": "at@example.com"}).Error)
		wantRow(t, db, "map by field", idByEmail(t, db, "at@example.com"), "Alan Turing", "Alan", "Turing", v2.Stamp())

		// A slice of maps, in a dry run (GORM itself fails to scan the keys
		// of the inserted rows back into maps): each map is converted.
		maps := []map[string]any{
			{"given_name": "Ken", "family_name": "Thompson", "email": "kt@example.com"},
			{"given_name": "Dennis", "family_name": "Ritchie", "email": "dr@example.com"},
		}
		stmt := cur.Session(&gorm.Session{DryRun: true}).Model(&CustomerV2{}).Create(maps).Statement
		must(t, stmt.Error)
		if maps[0]["name"] != "Ken Thompson" || maps[1]["name"] != "Dennis Ritchie" || !strings.Contains(stmt.SQL.String(), "name") {
			t.Errorf("slice of maps: names %v and %v, SQL %s", maps[0]["name"], maps[1]["name"], stmt.SQL.String())
		}

		// A Select on the map: the converter sees what is inserted.
		must(t, cur.Model(&CustomerV2{}).Select("given_name", "email").Create(map[string]any{"given_name": "Niklaus", "family_name": "Wirth", "email": "nw@example.com"}).Error)
		wantRow(t, db, "map with Select", idByEmail(t, db, "nw@example.com"), "Niklaus", "Niklaus", "<nil>", v2.Stamp())

		must(t, cur.Model(&CustomerV2{}).Create(map[string]any{"email": "plain@example.com"}).Error)
		wantRow(t, db, "map of no transitional column", idByEmail(t, db, "plain@example.com"), "<nil>", "<nil>", "<nil>", v2.Stamp())

		for what, m := range map[string]map[string]any{
			"expression": {"given_name": gorm.Expr("UPPER(?)", "x"), "family_name": "Y", "email": "expr@example.com"},
			"qualified":  {"customers.given_name": "X", "family_name": "Y", "email": "qual@example.com"},
		} {
			err := cur.Model(&CustomerV2{}).Create(m).Error
			if !errors.Is(err, compat.ErrUnconvertibleUpdate) {
				t.Errorf("map Create with a transitional column set by %s: %v, want ErrUnconvertibleUpdate", what, err)
			}
		}
		wantEqual(t, "rows inserted by the refused Creates", db.QueryInt(t, "SELECT COUNT(*) FROM customers WHERE email IN ('expr@example.com', 'qual@example.com')"), int64(0))
	})
}

// TestCreateSelectWritesDeprecated: a Create whose Select leaves the
// deprecated column out, or whose Omit names it, still inserts the value
// the downgrade converter computed, as the stamp is inserted; the converter
// sees the columns the Create leaves out as empty.
func TestCreateSelectWritesDeprecated(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, cur, _, _ := dualWithThree(t, db)
		c := CustomerV2{GivenName: "Barbara", FamilyName: "Liskov", Email: "bl@example.com"}
		must(t, cur.Select("GivenName", "FamilyName", "Email").Create(&c).Error)
		wantRow(t, db, "Select of the added fields", c.ID, "Barbara Liskov", "Barbara", "Liskov", v2.Stamp())
		wantEqual(t, "1.0 reads", nameForV1(t, old, c.ID), "Barbara Liskov")
		wantEqual(t, "the caller's model", c.Name, "Barbara Liskov")

		c = CustomerV2{GivenName: "Frances", FamilyName: "Allen", Email: "fa@example.com"}
		must(t, cur.Select("given_name", "email").Create(&c).Error)
		wantRow(t, db, "Select of one added field", c.ID, "Frances", "Frances", "<nil>", v2.Stamp())

		c = CustomerV2{GivenName: "Donald", FamilyName: "Knuth", Email: "dk@example.com"}
		must(t, cur.Omit("name").Create(&c).Error)
		wantRow(t, db, "Omit of the deprecated field", c.ID, "Donald Knuth", "Donald", "Knuth", v2.Stamp())

		c = CustomerV2{GivenName: "Leslie", FamilyName: "Lamport", Email: "ll@example.com"}
		must(t, cur.Omit("family_name").Create(&c).Error)
		wantRow(t, db, "Omit of an added field", c.ID, "Leslie", "Leslie", "<nil>", v2.Stamp())

		// A Select that names no transitional field: the added columns are
		// empty, so is the deprecated one.
		c = CustomerV2{GivenName: "John", FamilyName: "Backus", Email: "jb@example.com"}
		must(t, cur.Select("Email").Create(&c).Error)
		wantRow(t, db, "Select of no transitional field", c.ID, "", "<nil>", "<nil>", v2.Stamp())
	})
}

// TestCreatePaths: every way of creating rows in L(m) fills the deprecated
// column and stamps 2.0: a value, slices of values and of pointers,
// CreateInBatches, Save with a zero key and of a loaded 1.0 row, and
// FirstOrCreate with Assign (found and created).
func TestCreatePaths(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, cur, _, ids := dualWithThree(t, db)
		one := CustomerV2{GivenName: "A", FamilyName: "One"}
		must(t, cur.Create(&one).Error)
		sl := []CustomerV2{{GivenName: "B", FamilyName: "Two"}, {GivenName: "C", FamilyName: "Three"}}
		must(t, cur.Create(&sl).Error)
		ptrs := []*CustomerV2{{GivenName: "D", FamilyName: "Four"}}
		must(t, cur.Create(&ptrs).Error)
		bat := []CustomerV2{{GivenName: "E", FamilyName: "Five"}, {GivenName: "F", FamilyName: "Six"}, {GivenName: "G", FamilyName: "Seven"}}
		must(t, cur.CreateInBatches(&bat, 2).Error)
		sv := CustomerV2{GivenName: "H", FamilyName: "Eight"}
		must(t, cur.Save(&sv).Error)
		check := func(id uint, want string) {
			t.Helper()
			if r := raw(t, db, id); nameForV1(t, old, id) != want || r.ObjVersion != v2.Stamp() {
				t.Errorf("row %d: name %q stamp %d, want %q", id, str(r.Name), r.ObjVersion, want)
			}
		}
		check(one.ID, "A One")
		check(sl[0].ID, "B Two")
		check(sl[1].ID, "C Three")
		check(ptrs[0].ID, "D Four")
		check(bat[0].ID, "E Five")
		check(bat[2].ID, "G Seven")
		check(sv.ID, "H Eight")
		var l CustomerV2
		must(t, cur.First(&l, ids[0]).Error)
		l.FamilyName = "King"
		must(t, cur.Save(&l).Error)
		check(ids[0], "Ada King")

		var f CustomerV2
		must(t, cur.Where(CustomerV2{Email: "grace@example.com"}).Assign(CustomerV2{FamilyName: "Murray"}).FirstOrCreate(&f).Error)
		check(ids[1], "Grace Murray")
		var n CustomerV2
		must(t, cur.Where(CustomerV2{Email: "new@example.com"}).Assign(CustomerV2{GivenName: "New", FamilyName: "Person"}).FirstOrCreate(&n).Error)
		check(n.ID, "New Person")
	})
}

// upsertOnID is an ON CONFLICT on the primary key that updates the
// columns given from the inserted values.
func upsertOnID(cols ...string) clause.OnConflict {
	return clause.OnConflict{Columns: []clause.Column{{Name: "id"}}, DoUpdates: clause.AssignmentColumns(cols)}
}

// TestUpsertWithoutTransitionalColumnsKeepsStamp: an upsert whose update
// assigns no transitional column leaves the existing row's shape, and so
// its stamp: a 1.0 row stays 1.0, and 2.0 goes on upgrading it.
func TestUpsertWithoutTransitionalColumnsKeepsStamp(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, cur, _, ids := dualWithThree(t, db)
		must(t, cur.Clauses(upsertOnID("email")).Create(&CustomerV2{ID: ids[0], GivenName: "Not", FamilyName: "Written", Email: "ada@new.org"}).Error)
		r := raw(t, db, ids[0])
		wantEqual(t, "email", str(r.Email), "ada@new.org")
		wantRow(t, db, "upsert of email on a 1.0 row", ids[0], "Ada Lovelace", "<nil>", "<nil>", v1.Stamp())
		var c CustomerV2
		must(t, cur.First(&c, ids[0]).Error)
		if c.GivenName != "Ada" || c.FamilyName != "Lovelace" {
			t.Errorf("2.0 reads given %q family %q, want Ada Lovelace", c.GivenName, c.FamilyName)
		}
		wantEqual(t, "1.0 reads", nameForV1(t, old, ids[0]), "Ada Lovelace")

		// The insert of a new row is converted and stamped as any Create.
		must(t, cur.Clauses(upsertOnID("email")).Create(&CustomerV2{GivenName: "Edgar", FamilyName: "Codd", Email: "ec@example.com"}).Error)
		wantRow(t, db, "upsert that inserts", idByEmail(t, db, "ec@example.com"), "Edgar Codd", "Edgar", "Codd", v2.Stamp())
	})
}

// TestUpsertOfAddedColumns: an upsert whose update assigns the added
// columns from the inserted values also assigns the deprecated ones from
// the inserted (downgraded) values, and stamps, for a model whose
// downgrade reads only the added fields (model.DowngradeFromAdded). Every
// other upsert of transitional columns is refused with
// ErrUnconvertibleUpdate, with the row left as it was: a model whose
// downgrade may read more, an update that leaves an added column out, or
// one that assigns it another value.
func TestUpsertOfAddedColumns(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, cur, _, ids := dualWithThree(t, db)
		must(t, cur.Clauses(upsertOnID("given_name", "family_name")).
			Create(&directCustomer{CustomerV2{ID: ids[0], GivenName: "Augusta", FamilyName: "King", Email: "not@written"}}).Error)
		wantRow(t, db, "upsert of the added columns", ids[0], "Augusta King", "Augusta", "King", v2.Stamp())
		wantEqual(t, "1.0 reads", nameForV1(t, old, ids[0]), "Augusta King")
		wantEqual(t, "email (not in the update)", str(raw(t, db, ids[0]).Email), "ada@example.com")

		refused := map[string]func() error{
			"a model without DowngradeFromAdded": func() error {
				return cur.Clauses(upsertOnID("given_name", "family_name")).
					Create(&CustomerV2{ID: ids[1], GivenName: "Amazing", FamilyName: "Grace"}).Error
			},
			"one added column": func() error {
				return cur.Clauses(upsertOnID("family_name", "email")).
					Create(&directCustomer{CustomerV2{ID: ids[1], GivenName: "Amazing", FamilyName: "Grace"}}).Error
			},
			"an added column assigned a value": func() error {
				return cur.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "id"}}, DoUpdates: append(clause.AssignmentColumns([]string{"family_name"}),
					clause.Assignment{Column: clause.Column{Name: "given_name"}, Value: "Amazing"})}).
					Create(&directCustomer{CustomerV2{ID: ids[1], GivenName: "Amazing", FamilyName: "Grace"}}).Error
			},
			"only the deprecated column": func() error {
				return cur.Clauses(upsertOnID("name")).
					Create(&directCustomer{CustomerV2{ID: ids[1], GivenName: "Amazing", FamilyName: "Grace"}}).Error
			},
		}
		for what, f := range refused {
			if err := f(); !errors.Is(err, compat.ErrUnconvertibleUpdate) {
				t.Errorf("upsert of transitional columns with %s: %v, want ErrUnconvertibleUpdate", what, err)
			}
			wantRow(t, db, "after the refused upsert with "+what, ids[1], "Grace Hopper", "<nil>", "<nil>", v1.Stamp())
		}
	})
}

// TestUpsertUpdateAll: UpdateAll writes every inserted column, the
// downgraded Name and the stamp included.
func TestUpsertUpdateAll(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, cur, _, ids := dualWithThree(t, db)
		must(t, cur.Clauses(clause.OnConflict{UpdateAll: true}).
			Create(&CustomerV2{ID: ids[0], GivenName: "Augusta", FamilyName: "King", Email: "ada@example.com"}).Error)
		wantRow(t, db, "UpdateAll upsert", ids[0], "Augusta King", "Augusta", "King", v2.Stamp())
		wantEqual(t, "1.0 reads", nameForV1(t, old, ids[0]), "Augusta King")
	})
}

// TestUpsertUpdateAllOfPartialCreate: UpdateAll assigns only the columns
// the Create inserts, so a map or a Select that leaves added columns out
// would stamp the existing 1.0 row 2.0 unconverted: refused, the row as it
// was. A map with every added column of a model whose downgrade reads only
// those converts the row.
func TestUpsertUpdateAllOfPartialCreate(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, cur, _, ids := dualWithThree(t, db)
		upsert := func() *gorm.DB { return cur.Clauses(clause.OnConflict{UpdateAll: true}) }
		for what, err := range map[string]error{
			"map without added columns": upsert().Model(&CustomerV2{}).Create(map[string]any{"id": ids[0], "email": "ada@new.org"}).Error,
			"map with one added column": upsert().Model(&CustomerV2{}).Create(map[string]any{"id": ids[0], "given_name": "Augusta"}).Error,
			"Select of other columns":   upsert().Select("ID", "Email").Create(&CustomerV2{ID: ids[0], Email: "ada@new.org"}).Error,
			"map, downgrade reads more": upsert().Model(&CustomerV2{}).Create(map[string]any{"id": ids[0], "given_name": "Augusta", "family_name": "King"}).Error,
		} {
			if !errors.Is(err, compat.ErrUnconvertibleUpdate) {
				t.Errorf("UpdateAll upsert, %s: %v, want ErrUnconvertibleUpdate", what, err)
			}
			wantRow(t, db, "after the refused upsert ("+what+")", ids[0], "Ada Lovelace", "<nil>", "<nil>", v1.Stamp())
		}
		must(t, upsert().Model(&directCustomer{}).Create(map[string]any{"id": ids[0], "given_name": "Augusta", "family_name": "King", "email": "ada@example.com"}).Error)
		wantRow(t, db, "UpdateAll upsert of a map with every added column", ids[0], "Augusta King", "Augusta", "King", v2.Stamp())
		wantEqual(t, "1.0 reads", nameForV1(t, old, ids[0]), "Augusta King")
	})
}

// TestUpsertInContract: in L(c) an upsert whose update names the
// deprecated column fails with *DeprecatedFieldError before any SQL; one
// that assigns every added column from the inserted values is stamped
// with the L(c) marker and leaves the deprecated column alone.
func TestUpsertInContract(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, cur, p2, ids := dualWithThree(t, db)
		setTo(t, db, p2, v2, versions.StateContractReady)
		for what, oc := range map[string]clause.OnConflict{
			"assigned":        upsertOnID("name", "family_name"),
			"assigned from":   {Columns: []clause.Column{{Name: "id"}}, DoUpdates: []clause.Assignment{{Column: clause.Column{Name: "family_name"}, Value: clause.Column{Table: "excluded", Name: "name"}}}},
			"conflict target": {Columns: []clause.Column{{Name: "name"}}, DoUpdates: clause.AssignmentColumns([]string{"given_name", "family_name"})},
		} {
			err := cur.Clauses(oc).Create(&CustomerV2{ID: ids[0], GivenName: "Ada", FamilyName: "King"}).Error
			var dfe *compat.DeprecatedFieldError
			if !errors.As(err, &dfe) || dfe.Column != "name" {
				t.Errorf("L(c) upsert with name %s: %v, want *DeprecatedFieldError for name", what, err)
			}
			wantRow(t, db, "after the refused upsert ("+what+")", ids[0], "Ada Lovelace", "<nil>", "<nil>", v1.Stamp())
		}
		must(t, cur.Clauses(upsertOnID("given_name", "family_name")).Create(&CustomerV2{ID: ids[0], GivenName: "Ada", FamilyName: "King"}).Error)
		wantRow(t, db, "L(c) upsert of the added columns", ids[0], "Ada Lovelace", "Ada", "King", v2.MarkedStamp())
		if err := cur.Clauses(upsertOnID("family_name")).Create(&CustomerV2{ID: ids[1], FamilyName: "Murray"}).Error; !errors.Is(err, compat.ErrUnconvertibleUpdate) {
			t.Errorf("L(c) upsert of one added column: %v, want ErrUnconvertibleUpdate", err)
		}
	})
}
