package migrations_test

import (
	"encoding/json"
	"testing"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

// planned has a dialect-specific expand file next to portable ones.
var planned = files{
	"1.0_expand01_items.sql":           "CREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(50));\n",
	"1.0_expand02_index.sql":           "CREATE INDEX items_label ON items (label);\n",
	"1.0_expand02_index.postgres.sql":  "CREATE INDEX items_label ON items USING btree (label);\n",
	"1.0_expand02_index.mysql.sql":     "CREATE INDEX items_label USING BTREE ON items (label);\n",
	"1.0_migrate01_seed.sql":           "INSERT INTO items (id, label) VALUES (1, 'first');\n",
	"1.0_contract01_archive.sql":       "CREATE TABLE items_archive (id INT PRIMARY KEY);\n",
	"1.1_expand01_add_price.sql":       "ALTER TABLE items ADD COLUMN price INT;\n",
	"1.1_contract01_drop_archive.sql":  "DROP TABLE items_archive;\n",
	"1.1_migrate01_price.sql":          "UPDATE items SET price = 10;\n",
	"1.1_migrate02_price_again.sql":    "UPDATE items SET price = 11;\n",
	"1.1_contract02_drop_label.sql":    "ALTER TABLE items DROP COLUMN label;\n",
	"1.1_expand02_add_currency.sql":    "ALTER TABLE items ADD COLUMN currency VARCHAR(3);\n",
	"1.1_expand03_add_currency_ix.sql": "CREATE INDEX items_currency ON items (currency);\n",
}

func TestPlanAndDryRunChangeNothing(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r := newRunner(t, db.Gorm, planned)
		wantIndex := map[dialect.Name]string{
			dialect.SQLite:   planned["1.0_expand02_index.sql"],
			dialect.Postgres: planned["1.0_expand02_index.postgres.sql"],
			dialect.MySQL:    planned["1.0_expand02_index.mysql.sql"],
		}[db.Dialect]
		wantFile := map[dialect.Name]string{
			dialect.SQLite:   "1.0_expand02_index.sql",
			dialect.Postgres: "1.0_expand02_index.postgres.sql",
			dialect.MySQL:    "1.0_expand02_index.mysql.sql",
		}[db.Dialect]

		// A fresh database: not even tandem's tables may appear.
		before := snapshot(t, db)
		plan, err := r.Plan(ctx, versions.Version{})
		if err != nil {
			t.Fatalf("plan: %v", err)
		}
		if after := snapshot(t, db); after != before {
			t.Fatalf("plan changed a fresh database:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		wantEqual(t, "plan dialect", plan.Dialect, string(db.Dialect))
		wantEqual(t, "plan target", plan.Target, "1.1")
		wantPlan(t, plan, map[versions.Phase][]string{
			versions.PhaseExpand:   {"1.0_expand01", "1.0_expand02", "1.1_expand01", "1.1_expand02", "1.1_expand03"},
			versions.PhaseMigrate:  {"1.0_migrate01", "1.1_migrate01", "1.1_migrate02"},
			versions.PhaseContract: {"1.0_contract01", "1.1_contract01", "1.1_contract02"},
		})
		ix := plan.Phases[0].Steps[1]
		if ix.File != wantFile || ix.SQL != wantIndex || ix.Kind != migrations.KindSQL {
			t.Fatalf("planned 1.0_expand02 = %+v, want %s with %q", ix, wantFile, wantIndex)
		}

		// The plan of one phase up to 1.0.
		plan, err = r.Plan(ctx, ver("1.0"), versions.PhaseMigrate)
		if err != nil {
			t.Fatal(err)
		}
		wantPlan(t, plan, map[versions.Phase][]string{versions.PhaseMigrate: {"1.0_migrate01"}})

		// A half-migrated database: 1.1 expanded, 1.0 migrated, nothing contracted.
		if _, err := r.Expand(ctx, versions.Version{}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Migrate(ctx, ver("1.0")); err != nil {
			t.Fatal(err)
		}
		before = snapshot(t, db)
		plan, err = r.Plan(ctx, versions.Version{})
		if err != nil {
			t.Fatal(err)
		}
		wantPlan(t, plan, map[versions.Phase][]string{
			versions.PhaseExpand:   {},
			versions.PhaseMigrate:  {"1.1_migrate01", "1.1_migrate02"},
			versions.PhaseContract: {"1.0_contract01", "1.1_contract01", "1.1_contract02"},
		})
		if s := plan.Phases[1].Steps[0]; s.SQL != planned["1.1_migrate01_price.sql"] || s.File != "1.1_migrate01_price.sql" || s.Retry || s.Resume != 0 {
			t.Fatalf("planned 1.1_migrate01 = %+v", s)
		}
		if after := snapshot(t, db); after != before {
			t.Fatalf("plan changed a half-migrated database:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})
}

// TestDryRunCLIChangesNothing runs the tandem command's --dry-run on every
// phase and its plan command.
func TestDryRunCLIChangesNothing(t *testing.T) {
	bin := cliBinary(t)
	dir := planned.writeDir(t)
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		check := func(state string) {
			t.Helper()
			before := snapshot(t, db)
			for _, args := range [][]string{
				{"plan", "--json"},
				{"expand", "--dry-run", "--json"},
				{"migrate", "--dry-run", "--json"},
				{"contract", "--dry-run", "--json"},
			} {
				code, out := runCLI(ctx, t, bin, append(args, "--dsn", db.DSN, "--dir", dir)...)
				if code != 0 {
					t.Fatalf("%s: tandem %v exited %d:\n%s", state, args, code, out)
				}
				var p migrations.Plan
				if err := json.Unmarshal([]byte(out), &p); err != nil {
					t.Fatalf("%s: tandem %v printed no JSON plan: %v\n%s", state, args, err, out)
				}
				if p.Dialect != string(db.Dialect) || p.Target != "1.1" {
					t.Fatalf("%s: tandem %v: plan for %s up to %s", state, args, p.Dialect, p.Target)
				}
			}
			if after := snapshot(t, db); after != before {
				t.Fatalf("%s: a dry run changed the database:\nbefore:\n%s\nafter:\n%s", state, before, after)
			}
		}
		check("fresh database")
		r := newRunner(t, db.Gorm, planned)
		if _, err := r.Expand(ctx, versions.Version{}); err != nil {
			t.Fatal(err)
		}
		check("expanded database")
	})
}

// wantPlan fails the test unless plan has exactly the given phases with
// the given step ids, in order.
func wantPlan(t *testing.T, plan *migrations.Plan, want map[versions.Phase][]string) {
	t.Helper()
	if len(plan.Phases) != len(want) {
		t.Fatalf("plan has %d phases, want %d: %+v", len(plan.Phases), len(want), plan.Phases)
	}
	for _, p := range plan.Phases {
		ids, ok := want[p.Phase]
		if !ok {
			t.Fatalf("plan has unexpected phase %s", p.Phase)
		}
		wantSlice(t, "planned "+p.Phase.String(), stepIDs(p), ids)
	}
}
