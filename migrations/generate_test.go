package migrations_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

// genSource is a migration directory that already has some of 2.0's work:
// phone is added on every dialect, orders.status on MySQL only, and
// customers.nickname is dropped on PostgreSQL only.
var genSource = files{
	"1.0_baseline.sql": "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(200) NOT NULL DEFAULT '', nickname VARCHAR(50), obj_version BIGINT NOT NULL DEFAULT 0);\n" +
		"CREATE TABLE orders (id INT PRIMARY KEY, note VARCHAR(100), total INT);\n",
	"2.0_expand01_add_phone.sql":                "ALTER TABLE customers ADD COLUMN phone VARCHAR(20);\n",
	"2.0_expand01_add_phone.mysql.sql":          "ALTER TABLE customers ADD COLUMN phone VARCHAR(20);\nALTER TABLE orders ADD COLUMN status VARCHAR(10);\n",
	"2.0_contract01_drop_nickname.sql":          "SELECT 1;\n",
	"2.0_contract01_drop_nickname.postgres.sql": "ALTER TABLE customers DROP COLUMN nickname;\n",
}

// genDocs are the model docs 2.0 registers.
func genDocs() []store.SpecDoc {
	return []store.SpecDoc{
		{Model: "Customer", Table: "customers", PrimaryKey: []string{"id"}, Stamp: "obj_version", Columns: []store.ColumnDoc{
			{Column: "name", Field: "Name", Deprecated: "2.0"},
			{Column: "nickname", Field: "Nickname", Deprecated: "2.0"},
			{Column: "given_name", Field: "GivenName", Added: "2.0"},
			{Column: "family_name", Field: "FamilyName", Added: "2.0"},
			{Column: "phone", Field: "Phone", Added: "2.0"},
		}},
		{Model: "Order", Table: "orders", PrimaryKey: []string{"id"}, Columns: []store.ColumnDoc{
			{Column: "note", Field: "Note", Deprecated: "2.0"},
			{Column: "status", Field: "Status", Added: "2.0"},
		}},
	}
}

// dirNames returns the file names in dir, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestGenerateFiles(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		dir := genSource.writeDir(t)
		r, err := migrations.New(db.Gorm, os.DirFS(dir))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Expand(ctx, ver("1.0")); err != nil {
			t.Fatal(err)
		}
		if _, err := r.GenerateFiles(ctx, ver("2.0"), t.TempDir()); !errors.Is(err, migrations.ErrNoModels) {
			t.Fatalf("without models: %v, want ErrNoModels", err)
		}
		for _, doc := range genDocs() {
			scopeRegister(t, db.Gorm, "2.0", doc)
		}
		before := dirNames(t, dir)
		written, err := r.GenerateFiles(ctx, ver("2.0"), dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range written {
			if filepath.Dir(p) != dir {
				t.Errorf("%s written outside %s", p, dir)
			}
			names = append(names, filepath.Base(p))
		}
		var want []string
		for _, base := range []string{"2.0_expand02_add_customers_columns", "2.0_contract02_drop_customers_columns", "2.0_expand03_add_orders_columns", "2.0_contract03_drop_orders_columns"} {
			for _, d := range dialect.Names() {
				want = append(want, base+"."+string(d)+".sql")
			}
		}
		wantSlice(t, "files written", names, want)

		read := func(name string) string {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		// Types: the live database's for its own dialect, else a default
		// to check; the columns existing migrations handle are left out.
		for _, d := range dialect.Names() {
			exp := read("2.0_expand02_add_customers_columns." + string(d) + ".sql")
			if !strings.Contains(exp, "-- TODO: check the type") || !strings.Contains(exp, dialect.QuoteIdent(d, "given_name")) ||
				!strings.Contains(exp, dialect.QuoteIdent(d, "family_name")) || strings.Contains(exp, "phone") {
				t.Errorf("%s expand file:\n%s", d, exp)
			}
			con := read("2.0_contract02_drop_customers_columns." + string(d) + ".sql")
			if hasNick := strings.Contains(con, "nickname"); hasNick == (d == dialect.Postgres) {
				t.Errorf("%s contract file (nickname dropped on postgres only by 2.0_contract01):\n%s", d, con)
			}
			if live := strings.Contains(strings.ToLower(con), "(200) not null in the"); live != (d == db.Dialect) {
				t.Errorf("%s contract file, generated from %s: live type noted = %v\n%s", d, db.Dialect, live, con)
			}
		}
		if exp := read("2.0_expand03_add_orders_columns.mysql.sql"); !strings.Contains(exp, "Nothing to do on mysql") {
			t.Errorf("mysql adds orders.status in 2.0_expand01 already:\n%s", exp)
		}

		// Refuses to overwrite, and writes nothing.
		again, err := r.GenerateFiles(ctx, ver("2.0"), dir)
		if !errors.Is(err, fs.ErrExist) || len(again) != 0 {
			t.Fatalf("second run: %v, %v; want fs.ErrExist", again, err)
		}
		wantEqual(t, "files in the directory", len(dirNames(t, dir)), len(before)+len(want))

		// The files load and validate, without warnings.
		if _, err := migrations.Load(os.DirFS(dir)); err != nil {
			t.Fatalf("load the generated files: %v", err)
		}
		v, err := migrations.Validate(os.DirFS(dir))
		if err != nil || len(v.Problems) != 0 || len(v.Warnings) != 0 {
			t.Fatalf("validate: %+v, %v", v, err)
		}

		// Applied, they add and drop the right columns.
		r2, err := migrations.New(db.Gorm, os.DirFS(dir))
		if err != nil {
			t.Fatal(err)
		}
		ps, err := r2.ValidateScope(ctx, ver("2.0"))
		if err != nil || len(ps) != 0 {
			t.Fatalf("scope of the generated contract: %+v, %v", ps, err)
		}
		if _, err := r2.Expand(ctx, ver("2.0")); err != nil {
			t.Fatal(err)
		}
		wantColumns(t, db, "customers", "id", "name", "nickname", "obj_version", "phone", "given_name", "family_name")
		wantColumns(t, db, "orders", "id", "note", "total", "status")
		// Added columns are nullable: the previous release inserts without them.
		db.Exec(t, "INSERT INTO orders (id, total) VALUES (1, 5)")
		if _, err := r2.Migrate(ctx, ver("2.0")); err != nil {
			t.Fatal(err)
		}
		if err := r2.SetState(ctx, ver("2.0"), versions.StateContractReady); err != nil {
			t.Fatal(err)
		}
		if _, err := r2.Contract(ctx, ver("2.0")); err != nil {
			t.Fatal(err)
		}
		wantColumns(t, db, "customers", "id", "obj_version", "phone", "given_name", "family_name")
		wantColumns(t, db, "orders", "id", "total", "status")

		// Nothing left to generate.
		r3, err := migrations.New(db.Gorm, os.DirFS(dir))
		if err != nil {
			t.Fatal(err)
		}
		if more, err := r3.GenerateFiles(ctx, ver("2.0"), dir); err != nil || len(more) != 0 {
			t.Errorf("generate once everything is written: %v, %v", more, err)
		}
	})
}

// TestGenerateFilesLiveTypes: a column the live database already has (a
// development database built by AutoMigrate) is added with its type there.
func TestGenerateFilesLiveTypes(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		db.Exec(t, "CREATE TABLE widgets (id INT PRIMARY KEY, colour VARCHAR(30))")
		r, err := migrations.New(db.Gorm, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Init(ctx); err != nil {
			t.Fatal(err)
		}
		scopeRegister(t, db.Gorm, "3.0", store.SpecDoc{Model: "Widget", Table: "widgets", PrimaryKey: []string{"id"},
			Columns: []store.ColumnDoc{{Column: "colour", Field: "Colour", Added: "3.0"}, {Column: "size", Field: "Size", Added: "3.0"}}})
		dir := filepath.Join(t.TempDir(), "new")
		written, err := r.GenerateFiles(ctx, ver("3.0"), dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(written) != 3 {
			t.Fatalf("written = %v, want one expand file per dialect", written)
		}
		for _, p := range written {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			body := strings.ToLower(string(b))
			live := strings.Contains(p, "."+string(db.Dialect)+".sql")
			colour := "add column " + strings.ToLower(dialect.QuoteIdent(db.Dialect, "colour")) + " " // type follows
			if live && (!strings.Contains(body, colour+"varchar(30)") && !strings.Contains(body, colour+"character varying(30)") || strings.Count(body, "todo") != 1) {
				t.Errorf("%s: want colour with its live type and one TODO (for size):\n%s", p, b)
			}
			if !live && strings.Count(body, "todo: check the type") != 2 {
				t.Errorf("%s: want two TODOs:\n%s", p, b)
			}
		}
		if names := dirNames(t, dir); !slices.Equal(names, []string{"3.0_expand01_add_widgets_columns.mysql.sql", "3.0_expand01_add_widgets_columns.postgres.sql", "3.0_expand01_add_widgets_columns.sqlite.sql"}) {
			t.Errorf("files = %v", names)
		}
		if _, err := r.GenerateFiles(ctx, versions.Version{}, dir); err == nil {
			t.Errorf("generate without a release succeeded")
		}
	})
}
