package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

// threeReleases has migrations in every phase of 1.0 and 2.0 and an
// intermediate 1.1 without a contract; each logs itself to order_log.
var threeReleases = files{
	"1.0_expand01_order_log.sql":     createOrderLog + logLine("1.0_expand01"),
	"1.0_expand02_people.sql":        "CREATE TABLE people (id INT PRIMARY KEY, name VARCHAR(100), legacy VARCHAR(10));\n" + logLine("1.0_expand02"),
	"1.0_migrate01_seed.sql":         "INSERT INTO people (id, name) VALUES (1, 'Ada Lovelace');\n" + logLine("1.0_migrate01"),
	"1.0_contract01_drop_legacy.sql": "ALTER TABLE people DROP COLUMN legacy;\n" + logLine("1.0_contract01"),
	"1.1_expand01_add_email.sql":     "ALTER TABLE people ADD COLUMN email VARCHAR(100);\n" + logLine("1.1_expand01"),
	"1.1_migrate01_fill_email.sql":   "UPDATE people SET email = 'ada@example.org';\n" + logLine("1.1_migrate01"),
	"2.0_expand01_given_name.sql":    "ALTER TABLE people ADD COLUMN given_name VARCHAR(100);\n" + logLine("2.0_expand01"),
	"2.0_migrate01_split_name.sql":   "UPDATE people SET given_name = 'Ada';\n" + logLine("2.0_migrate01"),
	"2.0_contract01_drop_name.sql":   "ALTER TABLE people DROP COLUMN name;\n" + logLine("2.0_contract01"),
}

func TestOrderAcrossReleases(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r := newRunner(t, db.Gorm, threeReleases)
		target := ver("2.0")

		// Migrate and contract before expand are refused: expand pending.
		for _, run := range []struct {
			name string
			fn   func() (*migrations.Report, error)
		}{
			{"migrate", func() (*migrations.Report, error) { return r.Migrate(ctx, target) }},
			{"contract", func() (*migrations.Report, error) { return r.Contract(ctx, target) }},
		} {
			_, err := run.fn()
			oe := asError[*migrations.OrderError](t, err)
			wantEqual(t, run.name+" before expand: OrderError.Code", oe.Code, migrations.ExitExpandPending)
			// migrate answers with the code of what is pending; contract's
			// gate refuses with every blocking fact and exit code 7.
			wantEqual(t, run.name+" before expand: ExitCode", migrations.ExitCode(err), map[string]int{"migrate": 3, "contract": 7}[run.name])
			wantEqual(t, run.name+" before expand: OrderError.Need", oe.Need, versions.PhaseExpand)
			if !errors.Is(err, migrations.ErrOutOfOrder) {
				t.Fatalf("%s before expand: %v does not match ErrOutOfOrder", run.name, err)
			}
		}
		if hasTable(t, db, "order_log") || len(history(t, db.Gorm)) != 0 {
			t.Fatalf("a refused phase applied something: tables %v", db.Tables(t))
		}

		// Expand up to 2.0 includes the intermediate release 1.1.
		rep, err := r.Expand(ctx, target)
		if err != nil {
			t.Fatalf("expand: %v", err)
		}
		wantSlice(t, "expand applied", rep.Applied, []string{"1.0_expand01", "1.0_expand02", "1.1_expand01", "2.0_expand01"})
		wantEqual(t, "expand report schema", rep.Schema, "1.0_expand02; 1.1_expand01; 2.0_expand01")
		wantMap(t, "states after expand", states(t, db.Gorm), map[string]string{"1.0": "expanded", "1.1": "expanded", "2.0": "expanded"})

		// Contract before migrate is refused: migrate pending.
		_, err = r.Contract(ctx, target)
		oe := asError[*migrations.OrderError](t, err)
		wantEqual(t, "contract before migrate: code", oe.Code, migrations.ExitMigratePending)
		wantEqual(t, "contract before migrate: ExitCode", migrations.ExitCode(err), 7)
		wantSlice(t, "contract before migrate: pending", oe.Pending, []versions.MigrationID{
			{Release: ver("1.0"), Phase: versions.PhaseMigrate, Seq: 1},
			{Release: ver("1.1"), Phase: versions.PhaseMigrate, Seq: 1},
			{Release: ver("2.0"), Phase: versions.PhaseMigrate, Seq: 1},
		})

		rep, err = r.Migrate(ctx, target)
		if err != nil {
			t.Fatalf("migrate: %v", err)
		}
		wantSlice(t, "migrate applied", rep.Applied, []string{"1.0_migrate01", "1.1_migrate01", "2.0_migrate01"})

		// Contract before the flag is refused, and leaves everything as is.
		_, err = r.Contract(ctx, target)
		fe := asError[*migrations.FlagError](t, err)
		wantEqual(t, "flag error release", fe.Release, ver("1.0"))
		wantEqual(t, "flag error state", fe.State, versions.StateExpanded)
		wantEqual(t, "contract before flag: ExitCode", migrations.ExitCode(err), 7)
		if !errors.Is(err, migrations.ErrFlagNotSet) {
			t.Fatalf("%v does not match ErrFlagNotSet", err)
		}
		wantColumns(t, db, "people", "id", "name", "legacy", "email", "given_name")

		// Contract 1.0 alone once its flag is set.
		if err := r.SetState(ctx, ver("1.0"), versions.StateContractReady); err != nil {
			t.Fatalf("flag 1.0: %v", err)
		}
		wantEqual(t, "state of 1.0 after flag", states(t, db.Gorm)["1.0"], "contract-ready")
		rep, err = r.Contract(ctx, ver("1.0"))
		if err != nil {
			t.Fatalf("contract 1.0: %v", err)
		}
		wantSlice(t, "contract 1.0 applied", rep.Applied, []string{"1.0_contract01"})
		wantMap(t, "states after contract 1.0", states(t, db.Gorm), map[string]string{"1.0": "contracted", "1.1": "expanded", "2.0": "expanded"})
		st, err := r.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "schema after contract 1.0", st.Schema, "1.0_expand02, 1.0_contract01; 1.1_expand01; 2.0_expand01")

		// Contract 2.0 needs 1.1's flag too, then includes 1.1.
		if err := r.SetState(ctx, ver("2.0"), versions.StateContractReady); err != nil {
			t.Fatalf("flag 2.0: %v", err)
		}
		_, err = r.Contract(ctx, target)
		fe = asError[*migrations.FlagError](t, err)
		wantEqual(t, "flag error release", fe.Release, ver("1.1"))
		if err := r.SetState(ctx, ver("1.1"), versions.StateContractReady); err != nil {
			t.Fatalf("flag 1.1: %v", err)
		}
		rep, err = r.Contract(ctx, target)
		if err != nil {
			t.Fatalf("contract 2.0: %v", err)
		}
		wantSlice(t, "contract 2.0 applied", rep.Applied, []string{"2.0_contract01"})
		wantMap(t, "final states", states(t, db.Gorm), map[string]string{"1.0": "contracted", "1.1": "contracted", "2.0": "contracted"})

		wantSlice(t, "execution order", orderLog(t, db), []string{
			"1.0_expand01", "1.0_expand02", "1.1_expand01", "2.0_expand01",
			"1.0_migrate01", "1.1_migrate01", "2.0_migrate01",
			"1.0_contract01", "2.0_contract01",
		})
		wantColumns(t, db, "people", "id", "email", "given_name")
		wantEqual(t, "people rows with email and given name",
			db.QueryInt(t, "SELECT COUNT(*) FROM people WHERE email = 'ada@example.org' AND given_name = 'Ada'"), 1)

		applied := historyIDs(t, db.Gorm, "applied")
		if len(applied) != len(threeReleases) {
			t.Fatalf("applied history = %v, want all %d migrations", applied, len(threeReleases))
		}
		for id, row := range history(t, db.Gorm) {
			if row.Kind != "sql" || row.Dialect != string(db.Dialect) || row.FinishedAt == nil || row.StatementsDone != row.StatementsTotal || row.StatementsTotal != 2 {
				t.Fatalf("history row %s = %+v", id, row)
			}
		}

		st, err = r.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "final schema", st.Schema, "1.0_expand02, 1.0_contract01; 1.1_expand01; 2.0_expand01, 2.0_contract01")
		for _, rs := range st.Releases {
			if !rs.AtRelease || rs.State != versions.StateContracted || len(rs.Pending) != 0 {
				t.Fatalf("status of %s = %+v, want at release, contracted, nothing pending", rs.Release, rs)
			}
		}
		// Each release moved pending -> expanding -> expanded -> ... in the journal.
		if n := len(journal(t, db.Gorm, "state")); n != 12 {
			t.Fatalf("journal has %d state events, want 12 (3 releases x expanding, expanded, contract-ready, contracted)", n)
		}
	})
}

// TestContractGate shows the one place where later safety gates plug in:
// a refusal keeps the contract from running and is exit code 7.
func TestContractGate(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		refuse := true
		var asked []string
		gate := migrations.GateFunc(func(ctx context.Context, g *gorm.DB, rel versions.Version) error {
			asked = append(asked, rel.String())
			if refuse {
				return fmt.Errorf("%w: table people is 40%% covered\nhint: run 'tandem migrate'", migrations.ErrGateRefused)
			}
			return nil
		})
		r := newRunner(t, db.Gorm, threeReleases, migrations.WithGate(gate))
		for _, step := range []func(context.Context, versions.Version) (*migrations.Report, error){r.Expand, r.Migrate} {
			if _, err := step(ctx, ver("1.0")); err != nil {
				t.Fatal(err)
			}
		}
		// The flag is checked before any gate.
		if _, err := r.Contract(ctx, ver("1.0")); !errors.Is(err, migrations.ErrFlagNotSet) || len(asked) != 0 {
			t.Fatalf("contract before the flag: %v, gates asked %v", err, asked)
		}
		if err := r.SetState(ctx, ver("1.0"), versions.StateContractReady); err != nil {
			t.Fatal(err)
		}
		_, err := r.Contract(ctx, ver("1.0"))
		if !errors.Is(err, migrations.ErrGateRefused) || migrations.ExitCode(err) != migrations.ExitBlocked {
			t.Fatalf("contract refused by the gate: %v (exit %d)", err, migrations.ExitCode(err))
		}
		wantColumns(t, db, "people", "id", "name", "legacy")
		wantEqual(t, "state", states(t, db.Gorm)["1.0"], "contract-ready")

		refuse = false
		rep, err := r.Contract(ctx, ver("1.0"))
		if err != nil {
			t.Fatal(err)
		}
		wantSlice(t, "applied", rep.Applied, []string{"1.0_contract01"})
		wantSlice(t, "gates asked", asked, []string{"1.0", "1.0"})
	})
}
