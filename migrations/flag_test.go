package migrations_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

// TestFlipBackRefusedOnceContractBegun: a contract whose first migration
// dropped name and whose second failed leaves 2.0 contract-ready; a flip
// back would let 1.0 binaries, which read name, start again. It is refused
// (exit code 7) naming the applied migration, with a hint, and 2.0 stays
// contract-ready; the contract can still be finished. A single contract
// migration that failed after its drop refuses the flip back where the
// drop was kept (MySQL commits DDL at once), and allows it where the
// failure rolled the drop back.
func TestFlipBackRefusedOnceContractBegun(t *testing.T) {
	const broken = "UPDATE no_such_table SET x = 1;\n"
	t.Run("applied", func(t *testing.T) {
		dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
			ctx := t.Context()
			f := peopleFiles.with(files{"2.0_contract02_broken.sql": broken})
			r := readyPeopleFiles(t, db, f)
			if _, err := r.Contract(ctx, rel20); !errors.Is(err, migrations.ErrFailed) {
				t.Fatalf("contract with a broken second migration: %v", err)
			}
			if slices.Contains(db.Columns(t, "people"), "name") {
				t.Fatalf("the applied contract01 left name: %v", db.Columns(t, "people"))
			}
			err := r.SetState(ctx, rel20, versions.StateExpanded)
			ref := asError[*migrations.FlipBackRefusal](t, err)
			wantEqual(t, "exit code", migrations.ExitCode(err), migrations.ExitBlocked)
			wantSlice(t, "contract migrations named", idStrings(ref.Contract), []string{"2.0_contract01"})
			wantEqual(t, "newer releases named", len(ref.Newer), 0)
			for _, want := range []string{"2.0_contract01", "the columns it dropped are gone", "hint:", "tandem contract --release 2.0"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("refusal does not say %q:\n%v", want, err)
				}
			}
			wantEqual(t, "2.0 after the refusal", states(t, db.Gorm)["2.0"], "contract-ready")

			// The way on the hint names: fix the failed migration, finish.
			r2 := newRunner(t, db.Gorm, peopleFiles.with(files{"2.0_contract02_broken.sql": "UPDATE people SET given_name = given_name WHERE id = 0;\n"}),
				migrations.WithModels(&PersonV2{}))
			if _, err := r2.Contract(ctx, rel20); err != nil {
				t.Fatalf("contract after the fix: %v", err)
			}
			wantEqual(t, "2.0 after the contract", states(t, db.Gorm)["2.0"], "contracted")
		})
	})
	t.Run("partly applied", func(t *testing.T) {
		dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
			ctx := t.Context()
			f := peopleFiles.with(files{"2.0_contract01_drop_name.sql": "ALTER TABLE people DROP COLUMN name;\n" + broken})
			r := readyPeopleFiles(t, db, f)
			if _, err := r.Contract(ctx, rel20); !errors.Is(err, migrations.ErrFailed) {
				t.Fatalf("contract failing after its drop: %v", err)
			}
			gone := !slices.Contains(db.Columns(t, "people"), "name")
			wantEqual(t, "name dropped for good", gone, db.Dialect == dialect.MySQL)
			err := r.SetState(ctx, rel20, versions.StateExpanded)
			if !gone {
				if err != nil {
					t.Fatalf("flip back after a contract that kept nothing: %v", err)
				}
				wantEqual(t, "2.0 after the flip back", states(t, db.Gorm)["2.0"], "expanded")
				return
			}
			ref := asError[*migrations.FlipBackRefusal](t, err)
			wantEqual(t, "exit code", migrations.ExitCode(err), migrations.ExitBlocked)
			wantSlice(t, "contract migrations named", idStrings(ref.Contract), []string{"2.0_contract01"})
			wantEqual(t, "2.0 after the refusal", states(t, db.Gorm)["2.0"], "contract-ready")
		})
	})
}

func idStrings(ids []versions.MigrationID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// TestRefusalsLeaveUnmanagedDatabaseAlone: on a database without tandem's
// tables (a wrong --dsn, say), flag set and forget refuse with the errors
// they give on an empty tandem database, and create nothing.
func TestRefusalsLeaveUnmanagedDatabaseAlone(t *testing.T) {
	calls := []struct {
		name  string
		call  func(ctx context.Context, r *migrations.Runner) error
		check func(t *testing.T, err error)
	}{
		{"flag contract-ready", func(ctx context.Context, r *migrations.Runner) error {
			return r.SetState(ctx, rel20, versions.StateContractReady)
		},
			func(t *testing.T, err error) {
				ref := asError[*migrations.FlagRefusal](t, err)
				if len(ref.Reasons) == 0 || !strings.Contains(ref.Reasons[0], "its expand is not applied") {
					t.Errorf("reasons: %q", ref.Reasons)
				}
			}},
		{"flag migrating", func(ctx context.Context, r *migrations.Runner) error {
			return r.SetState(ctx, rel20, versions.StateExpanded)
		},
			func(t *testing.T, err error) { asError[*versions.TransitionError](t, err) }},
		{"forget", func(ctx context.Context, r *migrations.Runner) error { return r.Forget(ctx, "no-such-instance", false) },
			func(t *testing.T, err error) {
				if !errors.Is(err, migrations.ErrUnknownInstance) {
					t.Errorf("%v does not match ErrUnknownInstance", err)
				}
			}},
	}
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		empty := dbtest.New(t, db.Dialect)
		re := newRunner(t, empty.Gorm, peopleFiles)
		if err := re.Init(t.Context()); err != nil {
			t.Fatal(err)
		}
		db.Exec(t, "CREATE TABLE app_data (id INTEGER PRIMARY KEY)")
		before := snapshot(t, db)
		r := newRunner(t, db.Gorm, peopleFiles)
		for _, c := range calls {
			t.Run(c.name, func(t *testing.T) {
				err := c.call(t.Context(), r)
				c.check(t, err)
				if want := c.call(t.Context(), re); err == nil || want == nil || err.Error() != want.Error() {
					t.Errorf("refusal without tandem's tables:\n%v\non an empty tandem database:\n%v", err, want)
				}
				wantEqual(t, "database after the refusal", snapshot(t, db), before)
			})
		}
	})
}
