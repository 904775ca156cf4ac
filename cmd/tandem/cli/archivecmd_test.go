package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

func TestArchiveList(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		c := func(want int, args ...string) result {
			t.Helper()
			r := run(t, append(args, "--dsn", db.DSN, "--dir", t.TempDir())...)
			if r.code != want {
				t.Fatalf("tandem %v = %d, want %d\nstdout: %s\nstderr: %s", args, r.code, want, r.out, r.err)
			}
			return r
		}
		if r := c(0, "archive", "list"); !strings.Contains(r.out, "no archives") {
			t.Errorf("archive list on a database without archives:\n%s", r.out)
		}
		c(2, "archive")
		c(2, "archive", "show")

		db.Exec(t, "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50), email VARCHAR(50))")
		db.Exec(t, "INSERT INTO customers (id, name, email) VALUES (1, 'Ada', 'ada@example.org'), (2, NULL, NULL)")
		if _, err := migrations.Archive(context.Background(), db.Gorm, versions.MustParse("2.0"), "customers", []string{"id"}, []string{"name", "email"}); err != nil {
			t.Fatal(err)
		}
		r := c(0, "archive", "list")
		for _, s := range []string{"tandem_archive_2_0_customers", "customers", "2.0", " 2 ", "name,email"} {
			if !strings.Contains(r.out, s) {
				t.Errorf("archive list lacks %q:\n%s", s, r.out)
			}
		}
		r = c(0, "archive", "list", "--json")
		var infos []migrations.ArchiveInfo
		if err := json.Unmarshal([]byte(r.out), &infos); err != nil {
			t.Fatalf("archive list --json: %v\n%s", err, r.out)
		}
		if len(infos) != 1 || infos[0].Table != "tandem_archive_2_0_customers" || infos[0].Source != "customers" || infos[0].Release != "2.0" || infos[0].Rows != 2 {
			t.Errorf("archive list --json = %+v", infos)
		}
	})
}

func TestGenerateThroughPlanWrite(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "1.0_baseline.sql"), []byte("CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(200), obj_version BIGINT NOT NULL DEFAULT 0);\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		c := func(want int, args ...string) result {
			t.Helper()
			r := run(t, append(args, "--dsn", db.DSN, "--dir", dir)...)
			if r.code != want {
				t.Fatalf("tandem %v = %d, want %d\nstdout: %s\nstderr: %s", args, r.code, want, r.out, r.err)
			}
			return r
		}
		out := filepath.Join(t.TempDir(), "review")
		c(0, "expand")
		c(2, "plan", "--write", out) // no --release
		if r := c(1, "plan", "--release", "2.0", "--write", out); !strings.Contains(r.err, "no model of the release") {
			t.Errorf("without models:\n%s", r.err)
		}
		doc := store.SpecDoc{Model: "Customer", Table: "customers", PrimaryKey: []string{"id"}, Stamp: "obj_version",
			Columns: []store.ColumnDoc{{Column: "name", Field: "Name", Deprecated: "2.0"}, {Column: "given_name", Field: "GivenName", Added: "2.0"}}}
		v := versions.MustParse("2.0")
		if err := store.RegisterModel(context.Background(), db.Gorm, &store.ModelSpec{Release: "2.0", Table: "customers", ReleaseStamp: v.Stamp(),
			Model: "Customer", Spec: doc.JSON(), RegisteredAt: store.Now(), Instance: "test"}); err != nil {
			t.Fatal(err)
		}
		r := c(0, "plan", "--release", "2.0", "--write", out)
		if !strings.Contains(r.out, "wrote 6 file(s) for release 2.0") || !strings.Contains(r.out, "2.0_expand01_add_customers_columns.postgres.sql") ||
			!strings.Contains(r.out, "2.0_contract01_drop_customers_columns.sqlite.sql") {
			t.Errorf("plan --write:\n%s", r.out)
		}
		if _, err := migrations.Load(os.DirFS(out)); err != nil {
			t.Errorf("the written files do not load: %v", err)
		}
		if r := c(1, "plan", "--release", "2.0", "--write", out); !strings.Contains(r.err, "file already exists") {
			t.Errorf("second plan --write:\n%s", r.err)
		}
		// Without --write, plan still prints the plan.
		if r := c(0, "plan"); !strings.Contains(r.out, "plan up to release 1.0") {
			t.Errorf("plan:\n%s", r.out)
		}
	})
}
