package migrations_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

// broken is SQL that fails on every dialect: a migration holding it must
// never run.
const broken = "INSERT INTO table_that_does_not_exist (id) VALUES (1);\n"

// withBaseline has history before and at 1.0 that a fresh install must
// skip, the 1.0 baseline it starts from, the 2.0 migrations that follow, and
// a 3.0 baseline above the target.
var withBaseline = files{
	"0.9_baseline.sql":                broken,
	"0.9_expand01_old.sql":            broken,
	"0.9_migrate01_old.sql":           broken,
	"1.0_expand01_old.sql":            broken,
	"1.0_contract01_old.sql":          broken,
	"1.0_baseline.sql":                "CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(100));\nINSERT INTO accounts (id, name) VALUES (1, 'Grace Hopper');\n",
	"2.0_expand01_add_nickname.sql":   "ALTER TABLE accounts ADD COLUMN nickname VARCHAR(50);\n",
	"2.0_migrate01_fill_nickname.sql": "UPDATE accounts SET nickname = 'amazing grace';\n",
	"2.0_contract01_noop.sql":         "CREATE TABLE contracted_marker (id INT);\n",
	"3.0_baseline.sql":                broken,
}

func TestFreshInstallFromBaseline(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r := newRunner(t, db.Gorm, withBaseline)
		target := ver("2.0")

		plan, err := r.Plan(ctx, target, versions.PhaseExpand)
		if err != nil {
			t.Fatal(err)
		}
		wantSlice(t, "planned expand", stepIDs(plan.Phases[0]), []string{"1.0_baseline", "2.0_expand01"})

		rep, err := r.Expand(ctx, target)
		if err != nil {
			t.Fatalf("expand of a fresh database: %v", err)
		}
		wantSlice(t, "applied", rep.Applied, []string{"1.0_baseline", "2.0_expand01"})
		wantColumns(t, db, "accounts", "id", "name", "nickname")
		wantEqual(t, "rows written by the baseline", db.QueryInt(t, "SELECT COUNT(*) FROM accounts"), 1)
		h := history(t, db.Gorm)
		if len(h) != 2 || h["1.0_baseline"].Status != "applied" || h["1.0_baseline"].Kind != "baseline" || h["2.0_expand01"].Status != "applied" {
			t.Fatalf("history = %+v, want 1.0_baseline and 2.0_expand01 applied", h)
		}
		wantMap(t, "states", states(t, db.Gorm), map[string]string{"0.9": "contracted", "1.0": "contracted", "2.0": "expanded"})
		if len(journal(t, db.Gorm, "baseline")) != 1 {
			t.Fatalf("journal has no baseline event")
		}

		if _, err := r.Migrate(ctx, target); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if err := r.SetState(ctx, target, versions.StateContractReady); err != nil {
			t.Fatal(err)
		}
		rep, err = r.Contract(ctx, target)
		if err != nil {
			t.Fatalf("contract: %v", err)
		}
		wantSlice(t, "contract applied", rep.Applied, []string{"2.0_contract01"})
		res, err := r.Check(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "check after the install", res.Code, migrations.ExitOK)
		st, err := r.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "schema", st.Schema, "0.9_expand01; 1.0_expand01, 1.0_contract01; 2.0_expand01, 2.0_contract01")

		// A database with a history cannot be baselined.
		err = r.Baseline(ctx, ver("1.0"))
		if !errors.Is(err, migrations.ErrAlreadyManaged) {
			t.Fatalf("baseline of a managed database: %v, want ErrAlreadyManaged", err)
		}
	})
}

// Account is a model as a service would have it before adopting tandem.
type Account struct {
	ID    uint `gorm:"primaryKey"`
	Name  string
	Email string
}

// afterAutoMigrate describes what AutoMigrate already built (1.0, whose
// migrations would fail on the existing table) and a 1.1 that follows.
var afterAutoMigrate = files{
	"1.0_expand01_create_accounts.sql": "CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(100), email VARCHAR(100));\n",
	"1.0_migrate01_seed.sql":           broken,
	"1.1_expand01_add_nickname.sql":    "ALTER TABLE accounts ADD COLUMN nickname VARCHAR(50);\n",
}

func TestBaselineAutoMigratedDatabase(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		if err := db.Gorm.AutoMigrate(&Account{}); err != nil {
			t.Fatal(err)
		}
		if err := db.Gorm.Create(&Account{Name: "Katherine Johnson", Email: "kj@example.org"}).Error; err != nil {
			t.Fatal(err)
		}
		r := newRunner(t, db.Gorm, afterAutoMigrate)

		if err := r.Baseline(ctx, ver("1.0")); err != nil {
			t.Fatalf("baseline: %v", err)
		}
		h := history(t, db.Gorm)
		if len(h) != 1 || h["1.0_baseline"].Status != "baselined" {
			t.Fatalf("history after baseline = %+v, want one baselined 1.0_baseline row", h)
		}
		wantMap(t, "states after baseline", states(t, db.Gorm), map[string]string{"1.0": "contracted"})
		ev := journal(t, db.Gorm, "baseline")
		if len(ev) != 1 || ev[0].Release != "1.0" {
			t.Fatalf("baseline journal = %+v", ev)
		}

		res, err := r.Check(ctx, ver("1.1"))
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "check after baseline", res.Code, migrations.ExitExpandPending)

		rep, err := r.Expand(ctx, versions.Version{})
		if err != nil {
			t.Fatalf("expand after baseline: %v", err)
		}
		wantSlice(t, "applied", rep.Applied, []string{"1.1_expand01"})
		wantColumns(t, db, "accounts", "id", "name", "email", "nickname")
		wantEqual(t, "rows kept", db.QueryInt(t, "SELECT COUNT(*) FROM accounts WHERE name = 'Katherine Johnson'"), 1)
		rep, err = r.Migrate(ctx, versions.Version{})
		if err != nil || len(rep.Applied) != 0 {
			t.Fatalf("migrate after baseline applied %v, %v; want nothing (1.0_migrate01 is covered)", rep.Applied, err)
		}

		err = r.Baseline(ctx, ver("1.0"))
		if !errors.Is(err, migrations.ErrAlreadyManaged) {
			t.Fatalf("second baseline: %v, want ErrAlreadyManaged", err)
		}
		if !strings.Contains(err.Error(), "hint:") {
			t.Fatalf("refusal without a hint: %v", err)
		}
		wantEqual(t, "ExitCode of the refusal", migrations.ExitCode(err), migrations.ExitError)
		if len(journal(t, db.Gorm, "baseline")) != 1 {
			t.Fatal("a refused baseline was journaled")
		}
	})
}

// stepIDs returns the ids of a phase plan's steps.
func stepIDs(p migrations.PhasePlan) []string {
	ids := []string{}
	for _, s := range p.Steps {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestFailedBaselineIsRetried(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		bad := withBaseline.with(files{"1.0_baseline.sql": "CREATE TABLE accounts (id INT PRIMARY KEY, name VARCHAR(100));\n" + broken})
		_, err := newRunner(t, db.Gorm, bad).Expand(ctx, ver("2.0"))
		me := asError[*migrations.MigrationError](t, err)
		wantEqual(t, "failed migration", me.ID.String(), "1.0_baseline")
		wantEqual(t, "history status", history(t, db.Gorm)["1.0_baseline"].Status, "failed")

		// The fixed baseline is retried; the history before it still is not run.
		r := newRunner(t, db.Gorm, withBaseline)
		if db.Dialect == dialect.MySQL {
			if _, err := r.Repair(ctx); err != nil {
				t.Fatal(err)
			}
		}
		plan, err := r.Plan(ctx, ver("2.0"), versions.PhaseExpand)
		if err != nil {
			t.Fatal(err)
		}
		wantSlice(t, "planned expand after a failed baseline", stepIDs(plan.Phases[0]), []string{"1.0_baseline", "2.0_expand01"})
		if !plan.Phases[0].Steps[0].Retry {
			t.Fatalf("planned baseline = %+v, want a retry", plan.Phases[0].Steps[0])
		}
		rep, err := r.Expand(ctx, ver("2.0"))
		if err != nil {
			t.Fatalf("re-run: %v", err)
		}
		wantSlice(t, "applied by the re-run", rep.Applied, []string{"1.0_baseline", "2.0_expand01"})
		wantColumns(t, db, "accounts", "id", "name", "nickname")
		wantMap(t, "states", states(t, db.Gorm), map[string]string{"0.9": "contracted", "1.0": "contracted", "2.0": "expanded"})
	})
}
