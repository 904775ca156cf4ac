package migrations_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

func TestLoadReportsEveryBadFileAtOnce(t *testing.T) {
	src := files{
		"1.0_expand01_fine.sql":       "CREATE TABLE fine (id INT);\n",
		"add_users.sql":               "CREATE TABLE users (id INT);\n",
		"2.0_expand1_x.sql":           "SELECT 1;\n",
		"2.0_expand01_a.sql":          "SELECT 1;\n",
		"2.0_expand01_b.sql":          "SELECT 1;\n",
		"2.0_migrate01_x.sql":         "SELECT 1;\n",
		"2.0_migrate01_x.sqlite.sql":  "SELECT 1;\n",
		"2.0_migrate03_later.sql":     "SELECT 1;\n",
		"2.0_contract01_x.oracle.sql": "SELECT 1;\n",
		"2.0_baseline_full.sql":       "SELECT 1;\n",
		"README.md":                   "not a migration",
	}
	gos := []migrations.GoMigration{
		{ID: "2.0_migrate01", Func: func(context.Context, *gorm.DB) error { return nil }},
		{ID: "2.0_expand02", Func: nil},
	}
	_, err := migrations.Load(src.fsys(), gos...)
	se := asError[*migrations.SourceError](t, err)
	if !errors.Is(err, migrations.ErrBadSource) {
		t.Fatalf("%v does not match ErrBadSource", err)
	}
	want := map[string]string{
		"add_users.sql":               "release",
		"2.0_expand1_x.sql":           "two digits",
		"2.0_expand01_b.sql":          "duplicate id 2.0_expand01: 2.0_expand01_a.sql has it too",
		"go:2.0_migrate01":            "duplicate id",
		"2.0_migrate03_later.sql":     "gap",
		"2.0_contract01_x.oracle.sql": "oracle",
		"2.0_baseline_full.sql":       "without a slug",
		"go:2.0_expand02":             "nil function",
	}
	got := map[string]string{}
	for _, p := range se.Problems {
		if _, dup := got[p.File]; dup {
			t.Fatalf("%s reported twice: %+v", p.File, se.Problems)
		}
		got[p.File] = p.Reason
	}
	for file, reason := range want {
		if !strings.Contains(got[file], reason) {
			t.Errorf("problem of %s = %q, want it to mention %q", file, got[file], reason)
		}
		if !strings.Contains(err.Error(), file) {
			t.Errorf("error text does not name %s", file)
		}
	}
	if len(got) != len(want) {
		t.Errorf("problems = %+v, want exactly the files %v", se.Problems, want)
	}

	// New refuses the same source with the same error.
	db := dbtest.New(t, dialect.SQLite)
	_, err = migrations.New(db.Gorm, src.fsys(), migrations.WithGoMigrations(gos...))
	if se2 := asError[*migrations.SourceError](t, err); len(se2.Problems) != len(se.Problems) {
		t.Fatalf("New reported %d problems, Load %d", len(se2.Problems), len(se.Problems))
	}

	// Validate reports them without an error.
	v, err := migrations.Validate(src.fsys(), gos...)
	if err != nil || len(v.Problems) != len(se.Problems) {
		t.Fatalf("validate = %+v, %v", v, err)
	}
}

func TestDialectVariantAndGoMigrationOrder(t *testing.T) {
	src := files{
		"1.0_expand01_log.sql":                  createOrderLog + logLine("1.0_expand01"),
		"1.0_expand03_variant.sql":              "CREATE TABLE variant_plain (id INT);\n" + logLine("1.0_expand03"),
		"1.0_expand03_variant.mysql.sql":        "CREATE TABLE variant_mysql (id INT) ENGINE=InnoDB;\n" + logLine("1.0_expand03"),
		"1.0_expand04_last.sql":                 logLine("1.0_expand04"),
		"1.0_migrate02_after_go.sql":            logLine("1.0_migrate02"),
		"1.0_contract01_only_sqlite.sqlite.sql": logLine("1.0_contract01"),
	}
	goStep := func(id string) migrations.GoMigration {
		return migrations.GoMigration{ID: id, Revision: "1", Func: func(ctx context.Context, db *gorm.DB) error {
			return db.WithContext(ctx).Exec(logLine(id)).Error
		}}
	}
	gos := migrations.WithGoMigrations(goStep("1.0_expand02"), goStep("1.0_migrate01"))

	// Without a database: which file serves which dialect.
	s, err := migrations.Load(src.fsys(), goStep("1.0_expand02"), goStep("1.0_migrate01"))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := s.Lookup(versions.MigrationID{Release: ver("1.0"), Phase: versions.PhaseExpand, Seq: 3})
	if !ok {
		t.Fatal("1.0_expand03 not loaded")
	}
	for d, want := range map[dialect.Name]string{
		dialect.MySQL:    "1.0_expand03_variant.mysql.sql",
		dialect.Postgres: "1.0_expand03_variant.sql",
		dialect.SQLite:   "1.0_expand03_variant.sql",
	} {
		wantEqual(t, "file of 1.0_expand03 for "+string(d), m.File(d), want)
	}
	if m.Checksum(dialect.MySQL) == m.Checksum(dialect.Postgres) {
		t.Fatal("the MySQL variant has the plain file's checksum")
	}

	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		if db.Dialect != dialect.SQLite {
			// 1.0_contract01 has a file for SQLite only.
			_, err := migrations.New(db.Gorm, src.fsys(), gos)
			se := asError[*migrations.SourceError](t, err)
			if len(se.Problems) != 1 || se.Problems[0].File != "1.0_contract01_only_sqlite.sqlite.sql" {
				t.Fatalf("problems = %+v, want only the SQLite-only contract", se.Problems)
			}
			src := src.with(files{"1.0_contract01_only_sqlite.sql": logLine("1.0_contract01")})
			runAll(t, db, newRunner(t, db.Gorm, src, gos))
		} else {
			runAll(t, db, newRunner(t, db.Gorm, src, gos))
		}
		wantSlice(t, "execution order", orderLog(t, db), []string{
			"1.0_expand01", "1.0_expand02", "1.0_expand03", "1.0_expand04", "1.0_migrate01", "1.0_migrate02", "1.0_contract01",
		})
		wantEqual(t, "MySQL variant ran", hasTable(t, db, "variant_mysql"), db.Dialect == dialect.MySQL)
		wantEqual(t, "plain file ran", hasTable(t, db, "variant_plain"), db.Dialect != dialect.MySQL)
		h := history(t, db.Gorm)
		wantEqual(t, "kind of 1.0_expand02", h["1.0_expand02"].Kind, "go")
		wantEqual(t, "checksum of 1.0_expand02", h["1.0_expand02"].Checksum, "go:1.0_expand02@1")
	})
}

// runAll runs every phase up to the newest release.
func runAll(t *testing.T, db *dbtest.DB, r *migrations.Runner) {
	t.Helper()
	ctx := t.Context()
	if _, err := r.Expand(ctx, versions.Version{}); err != nil {
		t.Fatalf("expand: %v", err)
	}
	if _, err := r.Migrate(ctx, versions.Version{}); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	for _, rel := range r.Source().Releases() {
		if err := r.SetState(ctx, rel, versions.StateContractReady); err != nil {
			t.Fatalf("flag %s: %v", rel, err)
		}
	}
	if _, err := r.Contract(ctx, versions.Version{}); err != nil {
		t.Fatalf("contract: %v", err)
	}
	res, err := r.Check(ctx, versions.Version{})
	if err != nil || res.Code != migrations.ExitOK {
		t.Fatalf("check after every phase = %+v, %v", res, err)
	}
}
