package migrations_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

var checked = files{
	"1.0_expand01_items.sql":      "CREATE TABLE items (id INT PRIMARY KEY, label VARCHAR(50), old_label VARCHAR(50));\n",
	"1.0_migrate01_seed.sql":      "INSERT INTO items (id, label) VALUES (1, 'first');\n",
	"1.0_contract01_drop.sql":     "ALTER TABLE items DROP COLUMN old_label;\n",
	"1.1_expand01_broken.sql":     broken,
	"1.1_migrate01_unreached.sql": "UPDATE items SET label = 'second';\n",
}

func TestCheckExitCodes(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		r := newRunner(t, db.Gorm, checked)
		v10, v11 := ver("1.0"), ver("1.1")
		steps := []struct {
			name    string
			do      func() error // what to do before checking; nil: nothing
			runner  *migrations.Runner
			release versions.Version
			want    int
			next    string // part of the hint
		}{
			{name: "fresh database", release: v10, want: migrations.ExitExpandPending, next: "tandem expand"},
			{name: "expanded", do: phase(ctx, r.Expand, v10), release: v10, want: migrations.ExitMigratePending, next: "tandem migrate"},
			{name: "migrated", do: phase(ctx, r.Migrate, v10), release: v10, want: migrations.ExitWaitingFlag, next: "tandem flag set --release 1.0 contract-ready"},
			{name: "flag set", do: func() error { return r.SetState(ctx, v10, versions.StateContractReady) }, release: v10, want: migrations.ExitContractPending, next: "tandem contract"},
			{name: "contracted", do: phase(ctx, r.Contract, v10), release: v10, want: migrations.ExitOK},
			{name: "next release pending", release: v11, want: migrations.ExitExpandPending, next: "tandem expand"},
			{name: "failed migration", do: func() error {
				if _, err := r.Expand(ctx, v11); migrations.ExitCode(err) != migrations.ExitError {
					t.Fatalf("expand of a broken migration: %v, want a failure", err)
				}
				return nil
			}, release: v11, want: migrations.ExitError, next: "fix it"},
			{name: "done release unaffected by a later failure", release: v10, want: migrations.ExitOK},
			{name: "edited migration", runner: newRunner(t, db.Gorm, checked.with(files{
				"1.0_expand01_items.sql": "CREATE TABLE items (id BIGINT PRIMARY KEY, label VARCHAR(50), old_label VARCHAR(50));\n",
			})), release: v10, want: migrations.ExitError, next: "tandem repair"},
		}
		for _, s := range steps {
			if s.do != nil {
				if err := s.do(); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
			}
			run := r
			if s.runner != nil {
				run = s.runner
			}
			before := snapshot(t, db)
			res, err := run.Check(ctx, s.release)
			if err != nil {
				t.Fatalf("%s: check: %v", s.name, err)
			}
			if res.Code != s.want || !strings.Contains(res.Next, s.next) || res.Reason == "" || res.Release != s.release.String() {
				t.Fatalf("%s: check = %+v, want code %d and next containing %q", s.name, res, s.want, s.next)
			}
			if after := snapshot(t, db); after != before {
				t.Fatalf("%s: check changed the database", s.name)
			}
		}
	})
}

// phase adapts a phase method to a step of TestCheckExitCodes.
func phase(ctx context.Context, run func(context.Context, versions.Version) (*migrations.Report, error), rel versions.Version) func() error {
	return func() error {
		_, err := run(ctx, rel)
		return err
	}
}
