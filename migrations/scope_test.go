package migrations_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

// scopeDocs are the model docs of release 2.0 the scope tests check
// against: customers deprecates name and nickname in 2.0 (legacy_code in
// 1.5), orders deprecates note.
func scopeDocs() []store.SpecDoc {
	return []store.SpecDoc{
		{Model: "Customer", Table: "customers", PrimaryKey: []string{"id"}, Stamp: "obj_version", Columns: []store.ColumnDoc{
			{Column: "name", Field: "Name", Deprecated: "2.0"},
			{Column: "nickname", Field: "Nickname", Deprecated: "2.0"},
			{Column: "given_name", Field: "GivenName", Added: "2.0"},
			{Column: "legacy_code", Field: "LegacyCode", Deprecated: "1.5"},
		}},
		{Model: "Order", Table: "orders", PrimaryKey: []string{"id"}, Stamp: "obj_version", Columns: []store.ColumnDoc{
			{Column: "note", Field: "Note", Deprecated: "2.0"},
		}},
	}
}

// scopeQuote replaces every ⟨name⟩ in sql by name quoted for d.
func scopeQuote(d dialect.Name, sql string) string {
	for {
		i := strings.Index(sql, "⟨")
		if i < 0 {
			return sql
		}
		j := strings.Index(sql[i:], "⟩")
		name := sql[i+len("⟨") : i+j]
		sql = sql[:i] + dialect.QuoteIdent(d, name) + sql[i+j+len("⟩"):]
	}
}

// scopeCheck runs CheckScope on one contract file of 2.0 holding sql.
func scopeCheck(t *testing.T, d dialect.Name, f files) []migrations.ScopeProblem {
	t.Helper()
	src, err := migrations.Load(f.fsys())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return migrations.CheckScope(src, d, ver("2.0"), scopeDocs())
}

// scopeErrors returns the non-warning problems as table.column.
func scopeErrors(ps []migrations.ScopeProblem) []string {
	out := []string{}
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p.Table+"."+p.Column)
		}
	}
	return out
}

// scopeWarnings returns the warnings as table.column.
func scopeWarnings(ps []migrations.ScopeProblem) []string {
	out := []string{}
	for _, p := range ps {
		if p.Warning {
			out = append(out, p.Table+"."+p.Column)
		}
	}
	return out
}

func TestCheckScopeStatementShapes(t *testing.T) {
	all := dialect.Names()
	pg := []dialect.Name{dialect.Postgres}
	my := []dialect.Name{dialect.MySQL}
	lite := []dialect.Name{dialect.SQLite}
	notMy := []dialect.Name{dialect.Postgres, dialect.SQLite}
	tests := []struct {
		name     string
		dialects []dialect.Name
		sql      string
		want     []string // problems as table.column
	}{
		{"drop deprecated", all, "ALTER TABLE customers DROP COLUMN name", nil},
		{"drop deprecated, quoted", all, "ALTER TABLE ⟨customers⟩ DROP COLUMN ⟨name⟩", nil},
		{"lower case, no COLUMN, other case", all, "alter table Customers drop Name", nil},
		{"drop if exists", all, "ALTER TABLE customers DROP COLUMN IF EXISTS name", nil},
		{"drop quoted, other case", notMy, `ALTER TABLE customers DROP COLUMN "Name"`, nil},
		{"drop undeclared", all, "ALTER TABLE customers DROP COLUMN email", []string{"customers.email"}},
		{"drop undeclared, quoted", all, "ALTER TABLE ⟨customers⟩ DROP ⟨email⟩", []string{"customers.email"}},
		{"several actions", all, "ALTER TABLE customers DROP COLUMN name, DROP COLUMN email, DROP nickname", []string{"customers.email"}},
		{"several undeclared", all, "ALTER TABLE customers DROP COLUMN email, DROP COLUMN IF EXISTS phone", []string{"customers.email", "customers.phone"}},
		{"alter column type", all, "ALTER TABLE customers ALTER COLUMN email TYPE text", []string{"customers.email"}},
		{"alter without COLUMN", all, "ALTER TABLE customers ALTER email SET DEFAULT ''", []string{"customers.email"}},
		{"alter deprecated", all, "ALTER TABLE customers ALTER COLUMN name DROP NOT NULL", nil},
		{"modify column", all, "ALTER TABLE customers MODIFY COLUMN email VARCHAR(10) NOT NULL", []string{"customers.email"}},
		{"modify", my, "ALTER TABLE `customers` MODIFY `email` VARCHAR(10)", []string{"customers.email"}},
		{"change", my, "ALTER TABLE customers CHANGE email mail VARCHAR(10)", []string{"customers.email"}},
		{"change deprecated", my, "ALTER TABLE customers CHANGE COLUMN name full_name VARCHAR(10)", nil},
		{"rename column", all, "ALTER TABLE customers RENAME COLUMN email TO mail", []string{"customers.email"}},
		{"rename without COLUMN", pg, "ALTER TABLE customers RENAME email TO mail", []string{"customers.email"}},
		{"rename table", all, "ALTER TABLE customers RENAME TO clients", nil},
		{"drop constraint", all, "ALTER TABLE customers DROP CONSTRAINT customers_email_key", nil},
		{"drop index, keys", my, "ALTER TABLE customers DROP INDEX idx_email, DROP PRIMARY KEY, DROP FOREIGN KEY fk_x, DROP KEY k, DROP CHECK c", nil},
		{"add column", all, "ALTER TABLE customers ADD COLUMN extra INT", nil},
		{"add and validate constraint", pg, "ALTER TABLE customers ADD CONSTRAINT c CHECK (obj_version >= 2) NOT VALID, VALIDATE CONSTRAINT c", nil},
		{"comma inside parentheses", all, "ALTER TABLE customers ALTER COLUMN email TYPE numeric(10,2), DROP COLUMN name", []string{"customers.email"}},
		{"comments", all, "ALTER TABLE /* the, table */ customers -- DROP COLUMN name\n DROP COLUMN email", []string{"customers.email"}},
		{"hash comment", my, "ALTER TABLE customers # DROP COLUMN email\n DROP COLUMN name", nil},
		{"string is not an action", all, "ALTER TABLE customers ALTER COLUMN name SET DEFAULT 'a'', DROP COLUMN email'", nil},
		{"backslash in string", my, `ALTER TABLE customers ALTER COLUMN name SET DEFAULT 'a\', DROP COLUMN email'`, nil},
		{"dollar quote", pg, "ALTER TABLE customers ALTER COLUMN name SET DEFAULT $d$x, DROP COLUMN email$d$", nil},
		{"schema qualified", all, "ALTER TABLE main.customers DROP COLUMN email", []string{"customers.email"}},
		{"schema qualified, quoted", all, "ALTER TABLE ⟨app⟩.⟨customers⟩ DROP COLUMN ⟨email⟩", []string{"customers.email"}},
		{"if exists only", pg, "ALTER TABLE IF EXISTS ONLY customers DROP COLUMN email", []string{"customers.email"}},
		{"mysql table options", my, "ALTER TABLE customers ALGORITHM=INPLACE, LOCK=NONE, DROP COLUMN email", []string{"customers.email"}},
		{"doubled backtick", my, "ALTER TABLE customers DROP COLUMN `na``me`", []string{"customers.na`me"}},
		{"doubled double quote", notMy, `ALTER TABLE customers DROP COLUMN "na""me"`, []string{`customers.na"me`}},
		{"keyword as quoted column", all, "ALTER TABLE customers DROP ⟨index⟩", []string{"customers.index"}},
		{"brackets", lite, "ALTER TABLE [customers] DROP COLUMN [email]", []string{"customers.email"}},
		{"table without a model", all, "ALTER TABLE audit DROP COLUMN payload", []string{"audit.payload"}},
		{"deprecated in an earlier release", all, "ALTER TABLE customers DROP COLUMN legacy_code", []string{"customers.legacy_code"}},
		{"other table", all, "alter table orders drop column note, alter column name set default ''", []string{"orders.name"}},
		{"drop versioned table", all, "DROP TABLE customers", []string{"customers."}},
		{"drop other table", all, "DROP TABLE IF EXISTS audit_old", nil},
		{"drop tables", all, "DROP TABLE IF EXISTS ⟨audit_old⟩, customers CASCADE", []string{"customers."}},
		{"drop temporary table", my, "DROP TEMPORARY TABLE customers", nil},
		{"update", all, "UPDATE customers SET email = NULL", nil},
		{"create index", all, "CREATE INDEX idx_email ON customers (email)", nil},
		{"drop index statement", all, "DROP INDEX idx_email", nil},
	}
	for _, tt := range tests {
		for _, d := range tt.dialects {
			t.Run(tt.name+"/"+string(d), func(t *testing.T) {
				sql := scopeQuote(d, tt.sql)
				ps := scopeCheck(t, d, files{"2.0_contract01_x." + string(d) + ".sql": sql + ";\n"})
				got := scopeErrors(ps)
				want := tt.want
				if want == nil {
					want = []string{}
				}
				if !slices.Equal(got, want) {
					t.Fatalf("CheckScope(%q) problems = %v, want %v\n%v", sql, got, want, ps)
				}
				for _, p := range ps {
					if !p.Warning && (p.Migration != "2.0_contract01" || p.Statement != 1 || p.Reason == "") {
						t.Errorf("problem %+v: want migration 2.0_contract01, statement 1 and a reason", p)
					}
				}
			})
		}
	}
}

func TestCheckScopeLocatesStatements(t *testing.T) {
	f := files{
		"2.0_contract01_fine.sql": "ALTER TABLE customers DROP COLUMN nickname;\n",
		"2.0_contract02_mixed.sql": "UPDATE customers SET name = NULL;\n" +
			"ALTER TABLE customers DROP COLUMN name;\n\n" +
			"ALTER TABLE customers\n  DROP COLUMN email;\n",
	}
	ps := scopeCheck(t, dialect.Postgres, f)
	var errs []migrations.ScopeProblem
	for _, p := range ps {
		if !p.Warning {
			errs = append(errs, p)
		}
	}
	if len(errs) != 1 {
		t.Fatalf("problems = %+v, want one", errs)
	}
	p := errs[0]
	want := migrations.ScopeProblem{Migration: "2.0_contract02", File: "2.0_contract02_mixed.sql", Statement: 3, Line: 4, Table: "customers", Column: "email", Reason: p.Reason}
	if p != want {
		t.Errorf("problem = %+v, want %+v", p, want)
	}
	if !strings.Contains(p.Reason, "drops column customers.email") || !strings.Contains(p.Reason, "Customer") {
		t.Errorf("reason %q does not name the column and the model", p.Reason)
	}
	if s := p.String(); !strings.HasPrefix(s, "2.0_contract02_mixed.sql:4 statement 3: drops") {
		t.Errorf("String() = %q", s)
	}
}

func TestCheckScopeWarnings(t *testing.T) {
	tests := []struct {
		name     string
		d        dialect.Name
		f        files
		warnings []string
		problems []string
	}{
		{"nothing dropped", dialect.Postgres, files{}, []string{"customers.name", "customers.nickname", "orders.note"}, nil},
		{"some dropped", dialect.MySQL, files{
			"2.0_contract01_drop.sql": "ALTER TABLE customers DROP COLUMN name, DROP COLUMN nickname;\n",
		}, []string{"orders.note"}, nil},
		{"all dropped across files", dialect.SQLite, files{
			"2.0_contract01_a.sql": "ALTER TABLE customers DROP COLUMN name;\nALTER TABLE customers DROP COLUMN nickname;\n",
			"2.0_contract02_b.sql": "ALTER TABLE \"orders\" DROP COLUMN \"NOTE\";\n",
		}, nil, nil},
		{"other releases and phases do not count", dialect.Postgres, files{
			"1.0_contract01_a.sql": "ALTER TABLE orders DROP COLUMN note;\n",
			"2.0_expand01_a.sql":   "ALTER TABLE customers ADD COLUMN given_name text;\n",
			"2.0_migrate01_a.sql":  "ALTER TABLE customers DROP COLUMN nickname;\n",
			"2.0_contract01_a.sql": "ALTER TABLE customers DROP COLUMN name;\n",
			"3.0_contract01_a.sql": "ALTER TABLE customers DROP COLUMN nickname;\n",
		}, []string{"customers.nickname", "orders.note"}, nil},
		{"dialect variant drops on postgres", dialect.Postgres, files{
			"2.0_contract01_a.sql":          "ALTER TABLE customers DROP COLUMN name, DROP COLUMN nickname;\n",
			"2.0_contract02_b.sql":          "SELECT 1;\n",
			"2.0_contract02_b.postgres.sql": "ALTER TABLE orders DROP COLUMN note;\n",
		}, nil, nil},
		{"dialect variant does not drop on mysql", dialect.MySQL, files{
			"2.0_contract01_a.sql":          "ALTER TABLE customers DROP COLUMN name, DROP COLUMN nickname;\n",
			"2.0_contract02_b.sql":          "SELECT 1;\n",
			"2.0_contract02_b.postgres.sql": "ALTER TABLE orders DROP COLUMN note;\n",
		}, []string{"orders.note"}, nil},
		{"dropping the table drops its columns", dialect.Postgres, files{
			"2.0_contract01_a.sql": "DROP TABLE orders;\nALTER TABLE customers DROP COLUMN name, DROP COLUMN nickname;\n",
		}, nil, []string{"orders."}},
		{"rename is not a drop", dialect.Postgres, files{
			"2.0_contract01_a.sql": "ALTER TABLE orders RENAME COLUMN note TO old_note;\nALTER TABLE customers DROP COLUMN name, DROP COLUMN nickname;\n",
		}, []string{"orders.note"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := scopeCheck(t, tt.d, tt.f)
			if got := scopeWarnings(ps); !slices.Equal(got, append([]string{}, tt.warnings...)) {
				t.Errorf("warnings = %v, want %v", got, tt.warnings)
			}
			if got := scopeErrors(ps); !slices.Equal(got, append([]string{}, tt.problems...)) {
				t.Errorf("problems = %v, want %v", got, tt.problems)
			}
			for _, p := range ps {
				if p.Warning && (p.Migration != "" || !strings.Contains(p.Reason, "tandem plan --release 2.0 --write")) {
					t.Errorf("warning %+v: want no migration and a hint", p)
				}
			}
		})
	}
}

func TestCheckScopeGoContract(t *testing.T) {
	src, err := migrations.Load(files{}.fsys(), migrations.GoMigration{ID: "2.0_contract01", Func: func(context.Context, *gorm.DB) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ps := migrations.CheckScope(src, dialect.SQLite, ver("2.0"), scopeDocs())
	if len(ps) != 3 {
		t.Fatalf("problems = %+v, want three warnings", ps)
	}
	for _, p := range ps {
		if !p.Warning || !strings.Contains(p.Reason, "Go migrations 2.0_contract01 cannot be inspected") {
			t.Errorf("warning %+v does not mention the Go migration", p)
		}
	}
}

// scopeRegister records a model doc for rel in tandem_models.
func scopeRegister(t *testing.T, g *gorm.DB, rel string, doc store.SpecDoc) {
	t.Helper()
	v := versions.MustParse(rel)
	err := store.RegisterModel(context.Background(), g, &store.ModelSpec{
		Release: v.String(), Table: doc.Table, ReleaseStamp: v.Stamp(), Model: doc.Model, Spec: doc.JSON(),
		RegisteredAt: store.Now(), Instance: "test-" + rel,
	})
	if err != nil {
		t.Fatalf("register %s of %s: %v", doc.Table, rel, err)
	}
}

func TestValidateScope(t *testing.T) {
	f := files{
		"1.0_baseline.sql":              "CREATE TABLE customers (id INT PRIMARY KEY, name VARCHAR(50), nickname VARCHAR(50), email VARCHAR(50));\n",
		"2.0_contract01_drop_names.sql": "ALTER TABLE customers DROP COLUMN name;\nALTER TABLE customers DROP COLUMN email;\n",
	}
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		r := newRunner(t, db.Gorm, f)
		if err := r.Init(ctx); err != nil {
			t.Fatal(err)
		}
		ps, err := r.ValidateScope(ctx, ver("2.0"))
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 1 || !ps[0].Warning || !strings.Contains(ps[0].Reason, "no model of release 2.0") {
			t.Fatalf("without models: %+v, want one warning", ps)
		}
		docs := scopeDocs()
		scopeRegister(t, db.Gorm, "2.0", docs[0])
		// 1.0 deprecates email: that must not count for 2.0.
		scopeRegister(t, db.Gorm, "1.0", store.SpecDoc{Model: "Customer", Table: "customers", PrimaryKey: []string{"id"},
			Columns: []store.ColumnDoc{{Column: "email", Field: "Email", Deprecated: "2.0"}}})
		for _, rel := range []versions.Version{ver("2.0"), {}} { // zero: the newest
			ps, err = r.ValidateScope(ctx, rel)
			if err != nil {
				t.Fatal(err)
			}
			if got := scopeErrors(ps); !slices.Equal(got, []string{"customers.email"}) {
				t.Errorf("%v: problems = %v, want customers.email", rel, got)
			}
			if got := scopeWarnings(ps); !slices.Equal(got, []string{"customers.nickname"}) {
				t.Errorf("%v: warnings = %v, want customers.nickname", rel, got)
			}
			for _, p := range ps {
				if !p.Warning && (p.Statement != 2 || p.File != "2.0_contract01_drop_names.sql") {
					t.Errorf("problem %+v: want statement 2 of 2.0_contract01_drop_names.sql", p)
				}
			}
		}
	})
}
