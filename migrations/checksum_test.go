package migrations_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

var edited = files{
	"1.0_expand01_items.sql":      "CREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(50));\n",
	"1.0_migrate01_seed.sql":      "INSERT INTO items (id, label) VALUES (1, 'first');\n",
	"1.0_contract01_archive.sql":  "CREATE TABLE items_archive (id INT PRIMARY KEY);\n",
	"1.1_expand01_add_price.sql":  "ALTER TABLE items ADD COLUMN price INT;\n",
	"1.1_migrate01_set_price.sql": "UPDATE items SET price = 10;\n",
}

func TestEditedMigrationRefusedThenRepaired(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r := newRunner(t, db.Gorm, edited)
		if _, err := r.Expand(ctx, ver("1.0")); err != nil {
			t.Fatal(err)
		}
		recorded := history(t, db.Gorm)["1.0_expand01"].Checksum

		// Someone edits the applied file.
		changed := edited.with(files{"1.0_expand01_items.sql": "-- widened\nCREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(80));\n"})
		r2 := newRunner(t, db.Gorm, changed)
		before := snapshot(t, db)
		for _, phase := range []struct {
			name string
			run  func(context.Context, versions.Version) (*migrations.Report, error)
		}{
			{"expand", r2.Expand},
			{"migrate", r2.Migrate},
			{"contract", r2.Contract},
		} {
			_, err := phase.run(ctx, ver("1.1"))
			ce := asError[*migrations.ChecksumError](t, err)
			if !errors.Is(err, migrations.ErrChecksumMismatch) {
				t.Fatalf("%s: %v does not match ErrChecksumMismatch", phase.name, err)
			}
			if len(ce.Changed) != 1 || ce.Changed[0].ID.String() != "1.0_expand01" || ce.Changed[0].File != "1.0_expand01_items.sql" ||
				ce.Changed[0].Recorded != recorded || ce.Changed[0].Current == recorded {
				t.Fatalf("%s: changes = %+v", phase.name, ce.Changed)
			}
			wantEqual(t, phase.name+": ExitCode", migrations.ExitCode(err), migrations.ExitError)
			if !strings.Contains(err.Error(), "tandem repair") {
				t.Fatalf("%s: refusal without the repair hint: %v", phase.name, err)
			}
			if after := snapshot(t, db); after != before {
				t.Fatalf("%s: a refused run changed the database:\nbefore:\n%s\nafter:\n%s", phase.name, before, after)
			}
		}

		changes, err := r2.Repair(ctx)
		if err != nil {
			t.Fatalf("repair: %v", err)
		}
		if len(changes) != 1 || changes[0].ID.String() != "1.0_expand01" || changes[0].Recorded != recorded {
			t.Fatalf("repair changes = %+v", changes)
		}
		wantEqual(t, "checksum after repair", history(t, db.Gorm)["1.0_expand01"].Checksum, changes[0].Current)
		ev := journal(t, db.Gorm, "repair")
		if len(ev) != 1 || ev[0].Release != "1.0" || !strings.Contains(ev[0].Detail, "1.0_expand01") || ev[0].Actor == "" {
			t.Fatalf("repair journal = %+v", ev)
		}

		// The run proceeds, and the repaired migration is not run again.
		rep, err := r2.Expand(ctx, ver("1.1"))
		if err != nil {
			t.Fatalf("expand after repair: %v", err)
		}
		wantSlice(t, "expand after repair", rep.Applied, []string{"1.1_expand01"})
		rep, err = r2.Migrate(ctx, ver("1.1"))
		if err != nil {
			t.Fatalf("migrate after repair: %v", err)
		}
		wantSlice(t, "migrate after repair", rep.Applied, []string{"1.0_migrate01", "1.1_migrate01"})
		wantEqual(t, "priced items", db.QueryInt(t, "SELECT COUNT(*) FROM items WHERE price = 10"), 1)

		// Nothing left to repair.
		changes, err = r2.Repair(ctx)
		if err != nil || len(changes) != 0 {
			t.Fatalf("second repair = %+v, %v; want nothing", changes, err)
		}
	})
}
