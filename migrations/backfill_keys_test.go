package migrations_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// BadgeV2 has a composite key of strings; release 2.0 replaces the
// nullable Title with Label, its upper-case form.
type BadgeV2 struct {
	Tenant string  `gorm:"primaryKey;size:20"`
	Code   string  `gorm:"primaryKey;size:20"`
	Title  *string `gorm:"size:100" tandem:"deprecated=2.0"`
	Label  *string `gorm:"size:100" tandem:"added=2.0"`
	model.Stamp
}

func (BadgeV2) TableName() string { return "badges" }

// TandemUpgrade fills Label from Title (NULL stays NULL).
func (b *BadgeV2) TandemUpgrade(versions.Version) error {
	b.Label = nil
	if b.Title != nil {
		l := strings.ToUpper(*b.Title)
		b.Label = &l
	}
	return nil
}

// TandemDowngrade keeps Title for 1.0.
func (b *BadgeV2) TandemDowngrade() error {
	b.Title = nil
	if b.Label != nil {
		t := strings.ToLower(*b.Label)
		b.Title = &t
	}
	return nil
}

var badgeFiles = files{
	"1.0_baseline.sql": "CREATE TABLE badges (tenant VARCHAR(20) NOT NULL, code VARCHAR(20) NOT NULL, title VARCHAR(100), obj_version BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (tenant, code));\n" +
		"CREATE INDEX idx_badges_obj_version ON badges (obj_version);\n",
	"2.0_expand01_label.sql":   "ALTER TABLE badges ADD COLUMN label VARCHAR(100);\n",
	"2.0_contract01_title.sql": "ALTER TABLE badges DROP COLUMN title;\n",
}

// badgeTitle is the title the seed gives a badge: every seventh is NULL.
func badgeTitle(tenant string, i int) *string {
	if i%7 == 0 {
		return nil
	}
	s := fmt.Sprintf("title %s %d", tenant, i)
	return &s
}

// seedBadges writes n badges per tenant as 1.0 does, and returns their
// keys in key order.
func seedBadges(t *testing.T, db *dbtest.DB, tenants []string, n int) [][2]string {
	t.Helper()
	var keys [][2]string
	for _, tn := range tenants {
		var vals []string
		var args []any
		for i := 1; i <= n; i++ {
			vals = append(vals, "(?, ?, ?, ?)")
			args = append(args, tn, fmt.Sprintf("c%04d", i), badgeTitle(tn, i), st10)
			keys = append(keys, [2]string{tn, fmt.Sprintf("c%04d", i)})
		}
		db.Exec(t, "INSERT INTO badges (tenant, code, title, obj_version) VALUES "+strings.Join(vals, ", "), args...)
	}
	return keys
}

// badgeRow is a row of badges as the database holds it.
type badgeRow struct {
	Tenant, Code string
	Title, Label *string
	ObjVersion   int64
}

// checkBadges fails the test unless every seeded badge holds its title,
// the label the upgrade converter derives from it and the 2.0 stamp.
func checkBadges(t *testing.T, db *dbtest.DB, tenants []string, n int) {
	t.Helper()
	var rows []badgeRow
	if err := db.Gorm.Raw("SELECT tenant, code, title, label, obj_version FROM badges ORDER BY tenant, code").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(tenants)*n {
		t.Fatalf("%d badges, want %d", len(rows), len(tenants)*n)
	}
	str := func(p *string) string {
		if p == nil {
			return "NULL"
		}
		return *p
	}
	for k, r := range rows {
		tn, i := tenants[k/n], k%n+1
		title := badgeTitle(tn, i)
		want := "NULL"
		if title != nil {
			want = strings.ToUpper(*title)
		}
		if r.Tenant != tn || r.Code != fmt.Sprintf("c%04d", i) || str(r.Title) != str(title) || str(r.Label) != want || r.ObjVersion != st20 {
			t.Fatalf("badge %s/%s: title %s label %s stamp %d; want %s/c%04d: title %s label %s stamp %d",
				r.Tenant, r.Code, str(r.Title), str(r.Label), r.ObjVersion, tn, i, str(title), want, st20)
		}
	}
}

// TestBackfillCompositeStringKey runs the converter backfill, then the SQL
// backfill, on a table whose primary key is two strings, in batches that
// end inside a tenant, with NULLs among the compared values.
func TestBackfillCompositeStringKey(t *testing.T) {
	tenants := []string{"acme", "beta", "zeta"}
	const perTenant = 90
	for _, kind := range []string{migrations.BackfillConvert, migrations.BackfillSQL} {
		t.Run(kind, func(t *testing.T) {
			dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
				ctx := t.Context()
				f := files{}
				for k, v := range badgeFiles {
					f[k] = v
				}
				var opts []migrations.Option
				if kind == migrations.BackfillSQL {
					f["2.0_migrate01_label.sql"] = "-- tandem:backfill badges\nlabel = UPPER(title);\n"
				} else {
					opts = append(opts, migrations.WithModels(&BadgeV2{}))
				}
				opts = append(opts, migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 40, TargetBatch: 1}))
				r := newRunner(t, db.Gorm, f, opts...)
				if _, err := r.Expand(ctx, rel20); err != nil {
					t.Fatalf("expand: %v", err)
				}
				registerPerson(t, db.Gorm, &BadgeV2{})
				seedBadges(t, db, tenants, perTenant)
				rep, err := r.Migrate(ctx, rel20)
				if err != nil {
					t.Fatalf("migrate: %v", err)
				}
				var res *migrations.BackfillResult
				for i := range rep.Backfill {
					if rep.Backfill[i].Table == "badges" {
						res = &rep.Backfill[i]
					}
				}
				if res == nil {
					t.Fatalf("no backfill of badges in %+v", rep.Backfill)
				}
				wantEqual(t, "backfill kind", res.Kind, kind)
				wantEqual(t, "rows backfilled", res.Rows, int64(len(tenants)*perTenant))
				wantEqual(t, "rows left", res.Remaining, 0)
				if res.Batches < 3 {
					t.Errorf("%d batches, want several (batch size 40)", res.Batches)
				}
				checkBadges(t, db, tenants, perTenant)
			})
		})
	}
}

// PrefV2 moves the theme out of a json column (PostgreSQL's json type has
// no equality operator, so the compare-and-set must compare it as jsonb).
type PrefV2 struct {
	ID       int64  `gorm:"primaryKey;autoIncrement:false"`
	Settings string `gorm:"type:json" tandem:"deprecated=2.0"`
	Theme    string `gorm:"size:20" tandem:"added=2.0"`
	model.Stamp
}

func (PrefV2) TableName() string { return "prefs" }

func (p *PrefV2) TandemUpgrade(versions.Version) error {
	var m map[string]any
	if err := json.Unmarshal([]byte(p.Settings), &m); err != nil {
		return err
	}
	p.Theme, _ = m["theme"].(string)
	return nil
}

func (p *PrefV2) TandemDowngrade() error {
	b, err := json.Marshal(map[string]string{"theme": p.Theme})
	p.Settings = string(b)
	return err
}

// TestBackfillJSONColumn converts rows whose transitional column is of
// PostgreSQL's json type, written with spaces and key orders that the
// driver does not give back as they were.
func TestBackfillJSONColumn(t *testing.T) {
	db := dbtest.New(t, dialect.Postgres)
	ctx := t.Context()
	f := files{
		"1.0_baseline.sql":       "CREATE TABLE prefs (id BIGINT NOT NULL PRIMARY KEY, settings json, obj_version BIGINT NOT NULL DEFAULT 0);\n",
		"2.0_expand01_theme.sql": "ALTER TABLE prefs ADD COLUMN theme VARCHAR(20);\n",
	}
	r := newRunner(t, db.Gorm, f, migrations.WithModels(&PrefV2{}), migrations.WithBackfill(migrations.BackfillOptions{BatchSize: 7}))
	if _, err := r.Expand(ctx, rel20); err != nil {
		t.Fatalf("expand: %v", err)
	}
	registerPerson(t, db.Gorm, &PrefV2{})
	for id := 1; id <= 20; id++ {
		db.Exec(t, "INSERT INTO prefs (id, settings, obj_version) VALUES (?, ?, ?)", id, fmt.Sprintf(`{ "x" : %d,  "theme":"t%d" }`, id, id), st10)
	}
	rep, err := r.Migrate(ctx, rel20)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	for _, b := range rep.Backfill {
		if b.Table == "prefs" {
			wantEqual(t, "rows converted", b.Rows, int64(20))
			wantEqual(t, "conflicts", b.Conflicts, int64(0))
		}
	}
	wantEqual(t, "rows with their theme and the 2.0 stamp", db.QueryInt(t, "SELECT COUNT(*) FROM prefs WHERE theme = 't' || id AND obj_version = ?", st20), int64(20))
}
