package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/migrations"
)

func TestArchiveTableName(t *testing.T) {
	wantEqual(t, "name", migrations.ArchiveTable(ver("2.0"), "customers"), "tandem_archive_2_0_customers")
	wantEqual(t, "name", migrations.ArchiveTable(ver("2.0.1"), "customers"), "tandem_archive_2_0_1_customers")
	long := strings.Repeat("x", 60)
	a, b := migrations.ArchiveTable(ver("2.0"), long+"a"), migrations.ArchiveTable(ver("2.0"), long+"b")
	for _, n := range []string{a, b} {
		if len(n) > 63 || !strings.HasPrefix(n, migrations.ArchivePrefix+"2_0_xxx") {
			t.Errorf("long name %q (%d bytes): want at most 63 bytes and the prefix", n, len(n))
		}
	}
	if a == b {
		t.Errorf("two long names give one archive name %q", a)
	}
	wantEqual(t, "deterministic", migrations.ArchiveTable(ver("2.0"), long+"a"), a)
	u := migrations.ArchiveTable(ver("12.34.56"), strings.Repeat("é", 40))
	if len(u) > 63 || !utf8.ValidString(u) {
		t.Errorf("multi-byte name %q: %d bytes, valid UTF-8 %v", u, len(u), utf8.ValidString(u))
	}
}

// archiveFixture creates people, keyed by (id, region), with a few rows
// whose values are awkward: NULLs, empty strings, quotes, non-ASCII.
func archiveFixture(t *testing.T, db *dbtest.DB) {
	t.Helper()
	db.Exec(t, "CREATE TABLE people (id INT NOT NULL, region VARCHAR(8) NOT NULL, name VARCHAR(100), email VARCHAR(100), score INT, PRIMARY KEY (id, region))")
	db.Exec(t, "INSERT INTO people (id, region, name, email, score) VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)",
		1, "eu", "Ada Lovelace", "ada@example.org", 10,
		1, "us", nil, "", 20,
		2, "eu", `Zoë "Q" O'Brien`, nil, nil)
}

// archiveRows returns the rows of table projected on cols, ordered by key,
// one line each.
func archiveRows(t *testing.T, g *gorm.DB, d dialect.Name, table string, cols ...string) []string {
	t.Helper()
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = dialect.QuoteIdent(d, c)
	}
	q := fmt.Sprintf("SELECT %s FROM %s ORDER BY %s, %s", strings.Join(quoted, ", "), dialect.QuoteIdent(d, table), quoted[0], quoted[1])
	rows, err := g.Raw(q).Rows()
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(cols))
		for i, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = string(bs)
			}
			parts[i] = fmt.Sprintf("%s=%v", cols[i], v)
		}
		out = append(out, strings.Join(parts, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestArchiveHoldsExactlyTheDroppedValues(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		archiveFixture(t, db)
		cols := []string{"id", "region", "name", "email"}
		name := migrations.ArchiveTable(ver("2.0"), "people")

		n, err := migrations.Archive(ctx, db.Gorm, ver("2.0"), "people", []string{"id", "region"}, []string{"name", "email", "id"})
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "rows archived", n, int64(3))
		wantColumns(t, db, name, cols...)
		wantSlice(t, "archive", archiveRows(t, db.Gorm, db.Dialect, name, cols...), archiveRows(t, db.Gorm, db.Dialect, "people", cols...))
		if ev := journal(t, db.Gorm, "archive"); len(ev) != 1 || ev[0].Release != "2.0" || !strings.Contains(ev[0].Detail, "archived 3 row(s) of people") {
			t.Errorf("journal: %+v", ev)
		}
		// The archive is keyed: a second row with the same key is refused.
		if err := db.Gorm.Exec("INSERT INTO " + dialect.QuoteIdent(db.Dialect, name) + " (id, region) VALUES (1, 'eu')").Error; err == nil {
			t.Errorf("the archive accepted a duplicate key")
		}

		// A retried contract: the archive's content is replaced.
		db.Exec(t, "UPDATE people SET name = 'Changed' WHERE id = 1 AND region = 'eu'")
		db.Exec(t, "DELETE FROM people WHERE id = 2")
		db.Exec(t, "INSERT INTO people (id, region, name, email) VALUES (3, 'eu', 'New', 'new@example.org')")
		n, err = migrations.Archive(ctx, db.Gorm, ver("2.0"), "people", []string{"id", "region"}, []string{"name", "email"})
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "rows archived again", n, int64(3))
		before := archiveRows(t, db.Gorm, db.Dialect, "people", cols...)
		wantSlice(t, "archive after a retry", archiveRows(t, db.Gorm, db.Dialect, name, cols...), before)

		// A contract that dropped a column before it crashed (MySQL): the
		// archive made before the drop is kept as it is.
		db.Exec(t, "ALTER TABLE people DROP COLUMN name")
		n, err = migrations.Archive(ctx, db.Gorm, ver("2.0"), "people", []string{"id", "region"}, []string{"name", "email"})
		if err != nil {
			t.Fatalf("archive after the drop: %v", err)
		}
		wantEqual(t, "rows kept", n, int64(3))
		wantSlice(t, "archive kept", archiveRows(t, db.Gorm, db.Dialect, name, cols...), before)
		// A retry that asks only for the columns that remain keeps it too:
		// rebuilding would lose the values of name.
		n, err = migrations.Archive(ctx, db.Gorm, ver("2.0"), "people", []string{"id", "region"}, []string{"email"})
		if err != nil {
			t.Fatalf("archive of the remaining column: %v", err)
		}
		wantEqual(t, "rows kept", n, int64(3))
		wantSlice(t, "archive kept", archiveRows(t, db.Gorm, db.Dialect, name, cols...), before)
		if ev := journal(t, db.Gorm, "archive"); len(ev) != 4 || !strings.Contains(ev[3].Detail, "kept archive "+name) {
			t.Errorf("journal: %+v", ev)
		}
		// Asking for a column the earlier archive does not hold is refused,
		// and the archive stays.
		for _, asked := range [][]string{{"name", "score"}, {"score"}} {
			if _, err := migrations.Archive(ctx, db.Gorm, ver("2.0"), "people", []string{"id", "region"}, asked); err == nil || !strings.Contains(err.Error(), "cannot be rebuilt") {
				t.Errorf("archive of %v after name was dropped: %v", asked, err)
			}
		}
		wantSlice(t, "archive after a refusal", archiveRows(t, db.Gorm, db.Dialect, name, cols...), before)
		if _, err := migrations.Archive(ctx, db.Gorm, ver("2.2"), "people", []string{"id", "region"}, []string{"name"}); err == nil || !strings.Contains(err.Error(), "no earlier archive") {
			t.Errorf("archive of a column dropped without an archive: %v", err)
		}

		// Another release archives another column of the same table.
		if _, err := migrations.Archive(ctx, db.Gorm, ver("1.5"), "people", []string{"id", "region"}, []string{"score"}); err != nil {
			t.Fatal(err)
		}
		infos, err := migrations.Archives(ctx, db.Gorm)
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 2 {
			t.Fatalf("archives = %+v, want two", infos)
		}
		a, b := infos[0], infos[1]
		if a.Table != "tandem_archive_1_5_people" || a.Release != "1.5" || a.Source != "people" || !slices.Equal(a.Columns, []string{"score"}) || a.Rows != 3 {
			t.Errorf("first archive = %+v", a)
		}
		if b.Table != name || b.Release != "2.0" || b.Source != "people" || !slices.Equal(b.Columns, []string{"name", "email"}) ||
			!slices.Equal(b.PrimaryKey, []string{"id", "region"}) || b.Rows != 3 || b.ArchivedAt.IsZero() {
			t.Errorf("second archive = %+v", b)
		}
	})
}

func TestArchiveInTransaction(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		archiveFixture(t, db)
		name := migrations.ArchiveTable(ver("2.0"), "people")
		var n int64
		err := db.Gorm.Transaction(func(tx *gorm.DB) error {
			var err error
			n, err = migrations.Archive(ctx, tx, ver("2.0"), "people", []string{"id", "region"}, []string{"email"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "rows", n, int64(3))
		wantColumns(t, db, name, "id", "region", "email")
		if db.Dialect == dialect.MySQL {
			return // DDL commits at once: there is nothing to roll back
		}
		// A contract that fails after the archive leaves none behind.
		other := migrations.ArchiveTable(ver("3.0"), "people")
		boom := errors.New("the contract failed")
		err = db.Gorm.Transaction(func(tx *gorm.DB) error {
			if _, err := migrations.Archive(ctx, tx, ver("3.0"), "people", []string{"id", "region"}, []string{"name"}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("transaction: %v", err)
		}
		if hasTable(t, db, other) {
			t.Errorf("%s survived the rollback", other)
		}
		infos, err := migrations.Archives(ctx, db.Gorm)
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 1 || infos[0].Table != name {
			t.Errorf("archives after the rollback = %+v", infos)
		}
	})
}

func TestArchiveLongNamesAndErrors(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		ctx := context.Background()
		long := "t_" + strings.Repeat("x", 58)
		db.Exec(t, "CREATE TABLE "+long+" (id INT PRIMARY KEY, v VARCHAR(10))")
		db.Exec(t, "INSERT INTO "+long+" (id, v) VALUES (1, 'a'), (2, NULL)")
		n, err := migrations.Archive(ctx, db.Gorm, ver("10.20.30"), long, []string{"id"}, []string{"v"})
		if err != nil {
			t.Fatal(err)
		}
		wantEqual(t, "rows", n, int64(2))
		name := migrations.ArchiveTable(ver("10.20.30"), long)
		if !hasTable(t, db, name) {
			t.Fatalf("no table %s", name)
		}
		infos, err := migrations.Archives(ctx, db.Gorm)
		if err != nil {
			t.Fatal(err)
		}
		if len(infos) != 1 || infos[0].Table != name || infos[0].Source != long || infos[0].Rows != 2 {
			t.Errorf("archives = %+v", infos)
		}
		// Archives only lists tandem_archive_* tables, not tandem_archives
		// nor a table whose name merely matches the LIKE pattern.
		db.Exec(t, "CREATE TABLE tandem_archiveXlookalike (id INT)")
		if infos, err := migrations.Archives(ctx, db.Gorm); err != nil || len(infos) != 1 {
			t.Errorf("archives = %+v, %v", infos, err)
		}

		for _, tt := range []struct {
			table   string
			pk      []string
			columns []string
			text    string
		}{
			{"no_such_table", []string{"id"}, []string{"v"}, "does not exist"},
			{long, nil, []string{"v"}, "no primary key"},
			{long, []string{"nope"}, []string{"v"}, "primary key column(s) nope"},
			{long, []string{"id"}, []string{"id"}, "no column to archive"},
			{long, []string{"id"}, []string{"nope"}, "nope not in table"},
			{"", []string{"id"}, []string{"v"}, "no table"},
		} {
			if _, err := migrations.Archive(ctx, db.Gorm, ver("2.0"), tt.table, tt.pk, tt.columns); err == nil || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("Archive(%q, %v, %v) = %v, want an error containing %q", tt.table, tt.pk, tt.columns, err, tt.text)
			}
		}
		if _, err := migrations.Archive(ctx, db.Gorm, ver("0.0"), long, []string{"id"}, []string{"v"}); err == nil {
			t.Errorf("Archive of release 0.0 succeeded")
		}
	})
}
