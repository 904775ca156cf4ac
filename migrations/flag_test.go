package migrations_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
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

// TestFlagSetBackWhenOlderInstanceRegistersMeanwhile: a 1.0 instance that
// passed the start-up guard before the flag was set registers while the
// flag is being set, after the refusal's checks read the instances (here:
// in the transaction that writes the new state). Once the flag has
// committed, flag set reads the instances again, sets the flag back to
// migrating with a journal entry saying why, and refuses (exit code 7)
// naming the instance.
func TestFlagSetBackWhenOlderInstanceRegistersMeanwhile(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := t.Context()
		expandPeople(t, db, peopleFiles)
		g := db.Open(t)
		var once sync.Once
		err := g.Callback().Create().After("gorm:create").Register("test:late_instance", func(tx *gorm.DB) {
			if row, ok := tx.Statement.Dest.(*store.Release); !ok || row.State != string(versions.StateContractReady) {
				return
			}
			once.Do(func() {
				now := store.Now()
				in := &store.Instance{ID: "late-1.0", Host: "test-host", PID: 4242, Release: "1.0", ReleaseStamp: rel10.Stamp(),
					StartedAt: now, HeartbeatAt: now, ExpiresAt: now.Add(time.Hour), SeenState: string(versions.StateContracted), Mode: versions.StateContracted.Mode()}
				// On the statement's connection: on SQLite the runner's
				// lock is an exclusive transaction.
				same := g.Session(&gorm.Session{NewDB: true, Context: ctx})
				same.Statement.ConnPool = tx.Statement.ConnPool
				if err := store.SaveInstance(ctx, same, in); err != nil {
					_ = tx.AddError(err)
				}
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		r := newRunner(t, g, peopleFiles)
		err = r.SetState(ctx, rel20, versions.StateContractReady)
		ref := asError[*migrations.FlagRefusal](t, err)
		wantEqual(t, "exit code", migrations.ExitCode(err), migrations.ExitBlocked)
		wantEqual(t, "set back", ref.SetBack, true)
		if len(ref.Instances) != 1 || ref.Instances[0].ID != "late-1.0" {
			t.Errorf("instances named: %+v", ref.Instances)
		}
		for _, want := range []string{"instance late-1.0 (pid 4242 on test-host) still runs release 1.0", "registered while the flag was being set; it was set back to migrating"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("refusal does not say %q:\n%v", want, err)
			}
		}
		wantEqual(t, "2.0 after the refusal", states(t, db.Gorm)["2.0"], "expanded")
		var back []string
		for _, e := range journal(t, db.Gorm, "state") {
			if e.Release == "2.0" && strings.Contains(e.Detail, "set back by flag set") && strings.Contains(e.Detail, "late-1.0") {
				back = append(back, e.Detail)
			}
		}
		if len(back) != 1 {
			t.Errorf("journaled set-backs: %q", back)
		}
	})
}
