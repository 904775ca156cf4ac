package migrations_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/compat"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/model"
	"github.com/tandemdb/tandem/versions"
)

// The releases of the people table and the stamps they write.
var (
	rel10 = ver("1.0")
	rel20 = ver("2.0")
	st10  = rel10.Stamp()
	st20  = rel20.Stamp()
	mk20  = rel20.MarkedStamp()
)

// PersonV1 is release 1.0's view of the people table.
type PersonV1 struct {
	ID   int64  `gorm:"primaryKey;autoIncrement:false"`
	Name string `gorm:"size:100"`
	model.Stamp
}

func (PersonV1) TableName() string { return "people" }

// PersonV2 is release 2.0's: Name is split into GivenName and FamilyName.
type PersonV2 struct {
	ID         int64  `gorm:"primaryKey;autoIncrement:false"`
	Name       string `gorm:"size:100" tandem:"deprecated=2.0"`
	GivenName  string `gorm:"size:100" tandem:"added=2.0"`
	FamilyName string `gorm:"size:100" tandem:"added=2.0"`
	model.Stamp
}

func (PersonV2) TableName() string { return "people" }

// TandemUpgrade fills the 2.0 fields from Name.
func (p *PersonV2) TandemUpgrade(versions.Version) error {
	p.GivenName, p.FamilyName = splitName(p.Name)
	return nil
}

// TandemDowngrade keeps Name right for 1.0.
func (p *PersonV2) TandemDowngrade() error {
	p.Name = joinName(p.GivenName, p.FamilyName)
	return nil
}

func splitName(name string) (given, family string) {
	given, family, _ = strings.Cut(name, " ")
	return given, family
}

func joinName(given, family string) string { return strings.TrimSpace(given + " " + family) }

// countedPerson is PersonV2 whose upgrade converter counts its calls per
// row, so that a test can tell that no row was converted twice.
type countedPerson struct {
	ID         int64  `gorm:"primaryKey;autoIncrement:false"`
	Name       string `gorm:"size:100" tandem:"deprecated=2.0"`
	GivenName  string `gorm:"size:100" tandem:"added=2.0"`
	FamilyName string `gorm:"size:100" tandem:"added=2.0"`
	model.Stamp
}

func (countedPerson) TableName() string { return "people" }

// upgrades counts countedPerson's upgrades by row.
var upgrades struct {
	mu sync.Mutex
	n  map[int64]int
}

func resetUpgrades() {
	upgrades.mu.Lock()
	defer upgrades.mu.Unlock()
	upgrades.n = map[int64]int{}
}

func upgradeCounts() map[int64]int {
	upgrades.mu.Lock()
	defer upgrades.mu.Unlock()
	out := make(map[int64]int, len(upgrades.n))
	for k, v := range upgrades.n {
		out[k] = v
	}
	return out
}

func (p *countedPerson) TandemUpgrade(versions.Version) error {
	upgrades.mu.Lock()
	upgrades.n[p.ID]++
	upgrades.mu.Unlock()
	p.GivenName, p.FamilyName = splitName(p.Name)
	return nil
}

func (p *countedPerson) TandemDowngrade() error {
	p.Name = joinName(p.GivenName, p.FamilyName)
	return nil
}

// peopleFiles starts from the 1.0 baseline (a table of people with a
// name), and release 2.0 splits the name into given and family names.
var peopleFiles = files{
	"1.0_baseline.sql": "CREATE TABLE people (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(100), obj_version BIGINT NOT NULL DEFAULT 0);\n" +
		"CREATE INDEX idx_people_obj_version ON people (obj_version);\n",
	"2.0_expand01_split_name.sql":  "ALTER TABLE people ADD COLUMN given_name VARCHAR(100);\nALTER TABLE people ADD COLUMN family_name VARCHAR(100);\n",
	"2.0_contract01_drop_name.sql": "ALTER TABLE people DROP COLUMN name;\n",
}

// expandPeople builds the people table at 1.0 from the baseline, applies
// the 2.0 expand, and records PersonV2's declaration for 2.0 in the model
// registry, as a 2.0 instance would at start-up.
func expandPeople(t *testing.T, db *dbtest.DB, f files) {
	t.Helper()
	r := newRunner(t, db.Gorm, f)
	if _, err := r.Expand(t.Context(), rel20); err != nil {
		t.Fatalf("expand: %v", err)
	}
	registerPerson(t, db.Gorm, &PersonV2{})
}

// registerPerson records the declaration of m for release 2.0.
func registerPerson(t *testing.T, g *gorm.DB, m any) {
	t.Helper()
	spec, err := model.SpecOf(g, m)
	if err != nil {
		t.Fatal(err)
	}
	row := &store.ModelSpec{Release: "2.0", Table: spec.Table, ReleaseStamp: st20, Model: spec.Model,
		Spec: compat.SpecJSON(spec), RegisteredAt: store.Now(), Instance: "backfill-test"}
	if err := store.RegisterModel(t.Context(), g, row); err != nil {
		t.Fatal(err)
	}
}

// personName is the name the seed gives row id.
func personName(id int64) string { return fmt.Sprintf("Given%d Family%d", id, id) }

// seedPeople inserts rows from..to (inclusive) as release 1.0 writes them:
// a name and the given stamp (0: before tandem), no 2.0 columns.
func seedPeople(t *testing.T, db *dbtest.DB, from, to, stamp int64) {
	t.Helper()
	for lo := from; lo <= to; lo += 200 {
		hi := min(lo+199, to)
		var vals []string
		var args []any
		for id := lo; id <= hi; id++ {
			vals = append(vals, "(?, ?, ?)")
			args = append(args, id, personName(id), stamp)
		}
		db.Exec(t, "INSERT INTO people (id, name, obj_version) VALUES "+strings.Join(vals, ", "), args...)
	}
}

// personRow is one row of people as the database holds it.
type personRow struct {
	ID         int64
	Name       *string
	GivenName  *string
	FamilyName *string
	ObjVersion int64
}

func (p personRow) String() string {
	s := func(v *string) string {
		if v == nil {
			return "NULL"
		}
		return fmt.Sprintf("%q", *v)
	}
	return fmt.Sprintf("#%d name=%s given=%s family=%s stamp=%d", p.ID, s(p.Name), s(p.GivenName), s(p.FamilyName), p.ObjVersion)
}

// readPeople returns every row of people (which must still have its name
// column) by id.
func readPeople(t *testing.T, g *gorm.DB) map[int64]personRow {
	t.Helper()
	var rows []personRow
	if err := g.Raw("SELECT id, name, given_name, family_name, obj_version FROM people").Scan(&rows).Error; err != nil {
		t.Fatalf("read people: %v", err)
	}
	out := make(map[int64]personRow, len(rows))
	for _, r := range rows {
		out[r.ID] = r
	}
	return out
}

// wantPerson fails the test unless the row holds name, given, family and
// stamp.
func wantPerson(t *testing.T, got personRow, name, given, family string, stamp int64) {
	t.Helper()
	want := personRow{ID: got.ID, Name: &name, GivenName: &given, FamilyName: &family, ObjVersion: stamp}
	if got.String() != want.String() {
		t.Errorf("row %v, want %v", got, want)
	}
}

// startPlugin opens a new pool on the database with the compat plugin of
// rel and the given models, as an instance of the service would.
func startPlugin(t *testing.T, db *dbtest.DB, rel versions.Version, models ...any) (*gorm.DB, *compat.Plugin) {
	t.Helper()
	g := db.Open(t)
	p := compat.New(rel, compat.WithModels(models...), compat.WithoutListen())
	if err := g.Use(p); err != nil {
		t.Fatalf("start compat %s: %v", rel, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return g, p
}

// staleCount counts the rows of people stamped below 2.0.
func staleCount(t *testing.T, db *dbtest.DB) int64 {
	t.Helper()
	n, err := migrations.CountStale(context.Background(), db.Gorm, peopleTable, rel20)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// peopleTable is the people table as coverage sees it.
var peopleTable = migrations.VersionedTable{Table: "people", PrimaryKey: []string{"id"}, Stamp: "obj_version"}

// backfillOf returns the backfill result of people in a report.
func backfillOf(t *testing.T, rep *migrations.Report) migrations.BackfillResult {
	t.Helper()
	if rep == nil {
		t.Fatal("no report")
	}
	for _, b := range rep.Backfill {
		if b.Table == "people" {
			return b
		}
	}
	t.Fatalf("the report has no backfill of people: %+v", rep.Backfill)
	return migrations.BackfillResult{}
}

// wantComplete fails the test unless the coverage of 2.0 is 100% with
// rows rows.
func wantComplete(t *testing.T, r *migrations.Runner, rows int64) {
	t.Helper()
	cov, err := r.Coverage(t.Context(), rel20, migrations.CoverageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !cov.Complete || cov.Percent != 100 || cov.Stale != 0 || cov.Rows != rows {
		t.Fatalf("coverage of 2.0: complete %v, %.2f%%, %d stale of %d rows; want complete, 100%%, 0 of %d", cov.Complete, cov.Percent, cov.Stale, cov.Rows, rows)
	}
}
