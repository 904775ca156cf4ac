package compat_test

import (
	"errors"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// NickPersonV1 is release 1.0's view of nick_people.
type NickPersonV1 struct {
	ID       uint `gorm:"primaryKey"`
	Nickname string
	model.Stamp
}

func (NickPersonV1) TableName() string { return "nick_people" }

// NickPersonV2 is release 2.0's: Nickname is replaced by Nick, a pointer
// (nullable) added field.
type NickPersonV2 struct {
	ID       uint    `gorm:"primaryKey"`
	Nickname string  `tandem:"deprecated=2.0"`
	Nick     *string `gorm:"size:50" tandem:"added=2.0"`
	Email    string
	model.Stamp
}

func (NickPersonV2) TableName() string { return "nick_people" }

func (p *NickPersonV2) TandemUpgrade(versions.Version) error {
	if p.Nickname != "" {
		n := p.Nickname
		p.Nick = &n
	} else {
		p.Nick = nil
	}
	return nil
}

func (p *NickPersonV2) TandemDowngrade() error {
	p.Nickname = ""
	if p.Nick != nil {
		p.Nickname = *p.Nick
	}
	return nil
}

// nickPersonDirect is NickPersonV2 whose downgrade reads the added field
// only.
type nickPersonDirect struct{ NickPersonV2 }

func (*nickPersonDirect) TandemDowngradeFromAdded() {}

// MemberV1 is release 1.0's view of members, a table with a composite
// primary key.
type MemberV1 struct {
	OrgID  uint `gorm:"primaryKey;autoIncrement:false"`
	UserID uint `gorm:"primaryKey;autoIncrement:false"`
	Role   string
	model.Stamp
}

func (MemberV1) TableName() string { return "members" }

// MemberV2 is release 2.0's: Role is replaced by RoleCode.
type MemberV2 struct {
	OrgID    uint   `gorm:"primaryKey;autoIncrement:false"`
	UserID   uint   `gorm:"primaryKey;autoIncrement:false"`
	Role     string `tandem:"deprecated=2.0"`
	RoleCode string `gorm:"size:20" tandem:"added=2.0"`
	Note     string
	model.Stamp
}

func (MemberV2) TableName() string { return "members" }

func (m *MemberV2) TandemUpgrade(versions.Version) error {
	m.RoleCode = strings.ToUpper(m.Role)
	return nil
}
func (m *MemberV2) TandemDowngrade() error { m.Role = strings.ToLower(m.RoleCode); return nil }

// setColumnCustomer's BeforeUpdate sets the given name through
// SetColumn on every update.
type setColumnCustomer struct{ CustomerV2 }

func (*setColumnCustomer) BeforeUpdate(tx *gorm.DB) error {
	tx.Statement.SetColumn("given_name", "Hooked")
	return nil
}

// TestUpdatePaths: struct, map, Update, UpdateColumn(s), Select,
// Omit, Expr, mass update, transaction rollback, hooks via SetColumn.
func TestUpdatePaths(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, cur, _, ids := dualWithThree(t, db)
		must(t, cur.Model(&CustomerV2{ID: ids[0]}).Updates(CustomerV2{FamilyName: "King"}).Error)
		wantEqual(t, "Updates struct", nameForV1(t, old, ids[0]), "Ada King")
		must(t, cur.Model(&CustomerV2{ID: ids[0]}).Updates(map[string]any{"GivenName": "Augusta"}).Error)
		wantEqual(t, "Updates map", nameForV1(t, old, ids[0]), "Augusta King")
		must(t, cur.Model(&CustomerV2{ID: ids[1]}).UpdateColumn("family_name", "Murray").Error)
		wantEqual(t, "UpdateColumn", nameForV1(t, old, ids[1]), "Grace Murray")
		must(t, cur.Model(&CustomerV2{ID: ids[1]}).UpdateColumns(CustomerV2{GivenName: "Amazing"}).Error)
		wantEqual(t, "UpdateColumns", nameForV1(t, old, ids[1]), "Amazing Murray")
		must(t, cur.Model(&CustomerV2{ID: ids[2]}).Select("given_name").Updates(CustomerV2{GivenName: "E.", FamilyName: "Z"}).Error)
		wantEqual(t, "Select+Updates", nameForV1(t, old, ids[2]), "E. Dijkstra")
		must(t, cur.Model(&CustomerV2{ID: ids[2]}).Omit("family_name").Updates(CustomerV2{GivenName: "Edsger", FamilyName: "Z"}).Error)
		wantEqual(t, "Omit+Updates", nameForV1(t, old, ids[2]), "Edsger Dijkstra")
		if err := cur.Model(&CustomerV2{ID: ids[2]}).Update("family_name", gorm.Expr("UPPER(family_name)")).Error; !errors.Is(err, compat.ErrUnconvertibleUpdate) {
			t.Errorf("Expr on added field: %v", err)
		}
		if err := cur.Model(&CustomerV2{ID: ids[2]}).Update("name", gorm.Expr("UPPER(name)")).Error; !errors.Is(err, compat.ErrUnconvertibleUpdate) {
			t.Errorf("Expr on deprecated field: %v", err)
		}
		must(t, cur.Model(&CustomerV2{ID: ids[2]}).Updates(map[string]any{"email": gorm.Expr("UPPER(email)"), "family_name": "D."}).Error)
		if r := raw(t, db, ids[2]); str(r.Email) != "EDSGER@EXAMPLE.COM" || str(r.Name) != "Edsger D." {
			t.Errorf("Expr on other column + added: %+v", r)
		}
		if err := cur.Model(&CustomerV2{}).Where("email LIKE ?", "%@example.com").Updates(map[string]any{"given_name": "X"}).Error; !errors.Is(err, compat.ErrUnconvertibleUpdate) {
			t.Errorf("mass update: %v", err)
		}
		// Direct model: mass update of every added field.
		must(t, cur.Model(&directCustomer{}).Where("email LIKE ?", "%@example.com").Updates(map[string]any{"given_name": "Anon", "family_name": "Ymous"}).Error)
		for _, id := range ids[:2] {
			wantEqual(t, "direct mass update", nameForV1(t, old, id), "Anon Ymous")
		}
		// Rollback.
		before := raw(t, db, ids[0])
		var loaded CustomerV2
		must(t, cur.First(&loaded, ids[1]).Error)
		err := cur.Transaction(func(tx *gorm.DB) error {
			must(t, tx.Model(&CustomerV2{ID: ids[0]}).Update("family_name", "Rolled").Error)
			must(t, tx.Model(&loaded).Update("family_name", "Rolled").Error)
			must(t, tx.Create(&CustomerV2{GivenName: "Rolled", Email: "rolled@x"}).Error)
			return errors.New("rollback")
		})
		if err == nil {
			t.Fatal("no error")
		}
		if r := raw(t, db, ids[0]); str(r.FamilyName) != str(before.FamilyName) || r.ObjVersion != before.ObjVersion {
			t.Errorf("rolled back update is visible: %+v", r)
		}
		if r := raw(t, db, ids[1]); str(r.FamilyName) == "Rolled" {
			t.Errorf("rolled back fast update is visible: %+v", r)
		}
		if n := db.QueryInt(t, "SELECT COUNT(*) FROM customers WHERE email = 'rolled@x'"); n != 0 {
			t.Errorf("rolled back create visible")
		}
	})
}

// TestNullableAddedField: a nullable added field set to NULL and to
// a value, by the read-modify-write, the compare-and-set and the direct
// path.
func TestNullableAddedField(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		customersAt(t, db, relState{v1, versions.StateContracted})
		must(t, db.Gorm.AutoMigrate(&NickPersonV1{}))
		old, _ := plugged(t, db, v1, compat.WithModels(&CustomerV1{}, &NickPersonV1{}))
		a, b, c := NickPersonV1{Nickname: "ace"}, NickPersonV1{Nickname: "bee"}, NickPersonV1{Nickname: ""}
		must(t, old.Create(&a).Error)
		must(t, old.Create(&b).Error)
		must(t, old.Create(&c).Error)
		must(t, db.Gorm.AutoMigrate(&NickPersonV2{}))
		cur, _ := plugged(t, db, v2, compat.WithModels(&CustomerV2{}, &NickPersonV2{}))
		nick := func(id uint) (string, int64) {
			t.Helper()
			var r struct {
				Nickname   *string
				Nick       *string
				ObjVersion int64
			}
			must(t, db.Gorm.Raw("SELECT nickname, nick, obj_version FROM nick_people WHERE id = ?", id).Scan(&r).Error)
			return str(r.Nickname) + "|" + str(r.Nick), r.ObjVersion
		}
		// rmw, set NULL
		must(t, cur.Model(&NickPersonV2{ID: a.ID}).Update("nick", nil).Error)
		if got, s := nick(a.ID); got != "|<nil>" || s != v2.Stamp() {
			t.Errorf("rmw nick=nil: %s stamp %d", got, s)
		}
		// fast path on a loaded row with NULL nick
		var l NickPersonV2
		must(t, cur.First(&l, c.ID).Error)
		if l.Nick != nil {
			t.Fatalf("loaded %+v", l)
		}
		x := "cee"
		res := cur.Model(&l).Updates(map[string]any{"nick": &x, "email": "c@x"})
		must(t, res.Error)
		if got, s := nick(c.ID); got != "cee|cee" || s != v2.Stamp() || res.RowsAffected != 1 {
			t.Errorf("fast nick=cee: %s stamp %d rows %d", got, s, res.RowsAffected)
		}
		// again, set back to NULL via loaded model (CAS compares nothing NULL)
		var l2 NickPersonV2
		must(t, cur.First(&l2, c.ID).Error)
		must(t, cur.Model(&l2).Update("nick", nil).Error)
		if got, _ := nick(c.ID); got != "|<nil>" {
			t.Errorf("fast nick=nil: %s", got)
		}
		// direct (mass) to NULL
		must(t, cur.Model(&nickPersonDirect{}).Where("id = ?", b.ID).Updates(map[string]any{"nick": nil}).Error)
		if got, s := nick(b.ID); got != "|<nil>" || s != v2.Stamp() {
			t.Errorf("direct nick=nil: %s stamp %d", got, s)
		}
		// create with NULL
		p := NickPersonV2{Email: "p@x"}
		must(t, cur.Create(&p).Error)
		if got, s := nick(p.ID); got != "|<nil>" || s != v2.Stamp() {
			t.Errorf("create nick=nil: %s stamp %d", got, s)
		}
	})
}

// TestCompositeKeyWrites: a model with a composite primary key through
// the read-modify-write, the compare-and-set and Save.
func TestCompositeKeyWrites(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		customersAt(t, db, relState{v1, versions.StateContracted})
		must(t, db.Gorm.AutoMigrate(&MemberV1{}))
		old, _ := plugged(t, db, v1, compat.WithModels(&CustomerV1{}, &MemberV1{}))
		for _, m := range []MemberV1{{OrgID: 1, UserID: 1, Role: "admin"}, {OrgID: 1, UserID: 2, Role: "user"}, {OrgID: 2, UserID: 1, Role: "guest"}} {
			must(t, old.Create(&m).Error)
		}
		must(t, db.Gorm.AutoMigrate(&MemberV2{}))
		cur, _ := plugged(t, db, v2, compat.WithModels(&CustomerV2{}, &MemberV2{}))
		role := func(o, u uint) string {
			t.Helper()
			var r struct {
				Role       *string
				RoleCode   *string
				ObjVersion int64
			}
			must(t, db.Gorm.Raw("SELECT role, role_code, obj_version FROM members WHERE org_id = ? AND user_id = ?", o, u).Scan(&r).Error)
			return str(r.Role) + "|" + str(r.RoleCode)
		}
		must(t, cur.Model(&MemberV2{OrgID: 1, UserID: 2}).Update("role_code", "OWNER").Error)
		wantEqual(t, "rmw 1/2", role(1, 2), "owner|OWNER")
		wantEqual(t, "untouched 1/1", role(1, 1), "admin|<nil>")
		wantEqual(t, "untouched 2/1", role(2, 1), "guest|<nil>")
		var l MemberV2
		must(t, cur.First(&l, "org_id = ? AND user_id = ?", 2, 1).Error)
		must(t, old.Model(&MemberV1{OrgID: 2, UserID: 1}).Update("role", "banned").Error)
		must(t, cur.Model(&l).Updates(map[string]any{"note": "n"}).Error)
		must(t, cur.Model(&l).Update("role_code", "GUEST2").Error)
		wantEqual(t, "fast 2/1 after 1.0 write", role(2, 1), "guest2|GUEST2")
		wantEqual(t, "untouched 1/1", role(1, 1), "admin|<nil>")
		var l3 MemberV2
		must(t, cur.First(&l3, "org_id = ? AND user_id = ?", 1, 1).Error)
		l3.RoleCode = "ROOT"
		must(t, cur.Save(&l3).Error)
		wantEqual(t, "save 1/1", role(1, 1), "root|ROOT")
	})
}

// TestContractWritesAndFlipBack: L(c) leaves Name out of every write,
// refuses the writes that name it, and after a flip back dual writes
// resume and rows written in L(c) are refilled by their next conversion.
func TestContractWritesAndFlipBack(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		_, cur, p2, ids := dualWithThree(t, db)
		setTo(t, db, p2, v2, versions.StateContractReady)
		c := CustomerV2{Name: "Should Not", GivenName: "Linus", FamilyName: "Torvalds", Email: "lt@x"}
		must(t, cur.Create(&c).Error)
		if r := raw(t, db, c.ID); (r.Name != nil && *r.Name != "") || r.ObjVersion != v2.MarkedStamp() {
			t.Errorf("L(c) create: %+v", r)
		}
		for name, f := range map[string]func() error{
			"Update":       func() error { return cur.Model(&CustomerV2{ID: ids[0]}).Update("name", "x").Error },
			"UpdateColumn": func() error { return cur.Model(&CustomerV2{ID: ids[0]}).UpdateColumn("Name", "x").Error },
			"Updates qual": func() error {
				return cur.Model(&CustomerV2{ID: ids[0]}).Updates(map[string]any{"customers.name": "x"}).Error
			},
			"Select": func() error {
				return cur.Model(&CustomerV2{ID: ids[0]}).Select("name").Updates(CustomerV2{Name: "x"}).Error
			},
			"Create map": func() error { return cur.Model(&CustomerV2{}).Create(map[string]any{"name": "x"}).Error },
			"Where": func() error {
				return cur.Model(&CustomerV2{ID: ids[0]}).Where(&CustomerV2{Name: "x"}).Update("email", "y").Error
			},
		} {
			if err := f(); !errors.Is(err, compat.ErrDeprecatedField) {
				t.Errorf("L(c) %s naming name: %v", name, err)
			}
		}
		// Save/Updates of a struct carrying Name leave it out.
		var l CustomerV2
		must(t, cur.First(&l, ids[1]).Error)
		l.Name = "Not Written"
		l.FamilyName = "Murray"
		must(t, cur.Save(&l).Error)
		if r := raw(t, db, ids[1]); str(r.Name) != "Grace Hopper" || r.ObjVersion != v2.MarkedStamp() {
			t.Errorf("L(c) Save: %+v", r)
		}
		must(t, cur.Model(&CustomerV2{ID: ids[2]}).Updates(CustomerV2{Name: "Not", FamilyName: "D."}).Error)
		if r := raw(t, db, ids[2]); str(r.Name) != "Edsger Dijkstra" || str(r.GivenName) != "Edsger" || r.ObjVersion != v2.MarkedStamp() {
			t.Errorf("L(c) Updates: %+v", r)
		}
		// Flip back.
		setTo(t, db, p2, v2, versions.StateExpanded)
		must(t, cur.Model(&CustomerV2{ID: c.ID}).Update("email", "lt2@x").Error)
		wantEqual(t, "marked stamp kept by an unrelated update", raw(t, db, c.ID).ObjVersion, v2.MarkedStamp())
		must(t, cur.Model(&CustomerV2{ID: c.ID}).Update("family_name", "T.").Error)
		if r := raw(t, db, c.ID); str(r.Name) != "Linus T." || r.ObjVersion != v2.Stamp() {
			t.Errorf("flip back rmw of an L(c) row: %+v", r)
		}
		var l2 CustomerV2
		must(t, cur.First(&l2, ids[1]).Error)
		must(t, cur.Model(&l2).Update("given_name", "Amazing").Error)
		if r := raw(t, db, ids[1]); str(r.Name) != "Amazing Murray" || r.ObjVersion != v2.Stamp() {
			t.Errorf("flip back fast update of an L(c) row: %+v", r)
		}
	})
}

// TestHookSetColumnIsConverted: a BeforeUpdate hook that sets an added
// column through SetColumn on an update of another column is converted.
func TestHookSetColumnIsConverted(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		old, cur, _, ids := dualWithThree(t, db)
		must(t, cur.Model(&setColumnCustomer{CustomerV2{ID: ids[0]}}).Update("email", "a@x").Error)
		if r := raw(t, db, ids[0]); str(r.GivenName) != "Hooked" || str(r.FamilyName) != "Lovelace" || nameForV1(t, old, ids[0]) != "Hooked Lovelace" || r.ObjVersion != v2.Stamp() {
			t.Errorf("hook SetColumn: name %s given %s family %s stamp %d", str(r.Name), str(r.GivenName), str(r.FamilyName), r.ObjVersion)
		}
		var l setColumnCustomer
		must(t, cur.First(&l, ids[1]).Error)
		l.Email = "g@x"
		must(t, cur.Save(&l).Error)
		if r := raw(t, db, ids[1]); nameForV1(t, old, ids[1]) != "Hooked Hopper" || str(r.GivenName) != "Hooked" {
			t.Errorf("hook SetColumn on Save: name %s given %s", str(r.Name), str(r.GivenName))
		}
	})
}

// TestTwoDatabasesIndependent: two *gorm.DB of release 2.0 in one
// process, on two databases, one in L(m) and one in L(c), and a plain
// *gorm.DB: each writes as its own state says.
func TestTwoDatabasesIndependent(t *testing.T) {
	for _, d := range dbtest.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			a, b := dbtest.New(t, d), dbtest.New(t, d)
			_, curA, _, _ := dualWithThree(t, a)
			_, curB, pB, _ := dualWithThree(t, b)
			setTo(t, b, pB, v2, versions.StateContractReady)
			for i := 0; i < 2; i++ {
				ca := CustomerV2{GivenName: "Ken", FamilyName: "Thompson"}
				must(t, curA.Create(&ca).Error)
				cb := CustomerV2{GivenName: "Ken", FamilyName: "Thompson"}
				must(t, curB.Create(&cb).Error)
				if r := raw(t, a, ca.ID); str(r.Name) != "Ken Thompson" || r.ObjVersion != v2.Stamp() {
					t.Errorf("L(m) database: %+v", r)
				}
				if r := raw(t, b, cb.ID); (r.Name != nil && *r.Name != "") || r.ObjVersion != v2.MarkedStamp() {
					t.Errorf("L(c) database: name %s stamp %d", str(r.Name), r.ObjVersion)
				}
				must(t, curA.Model(&CustomerV2{ID: ca.ID}).Update("family_name", "T").Error)
				must(t, curB.Model(&CustomerV2{ID: cb.ID}).Update("family_name", "T").Error)
				if r := raw(t, a, ca.ID); str(r.Name) != "Ken T" {
					t.Errorf("L(m) database update: %+v", r)
				}
				var plain CustomerV2
				must(t, b.Gorm.Create(&CustomerV2{Name: "Plain", GivenName: "P"}).Error)
				must(t, b.Gorm.Where("given_name = ?", "P").First(&plain).Error)
				if plain.Name != "Plain" || plain.ObjVersion != 0 {
					t.Errorf("plain GORM on the L(c) database: %+v", plain)
				}
				must(t, b.Gorm.Where("given_name = ?", "P").Delete(&CustomerV2{}).Error)
			}
		})
	}
}
