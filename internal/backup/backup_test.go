package backup_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/backup"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
)

// createItems makes a table with an index and rows whose values are easy to
// damage: quotes, backslashes, newlines, non-ASCII text, NULLs, binary data
// with zero bytes, decimals and timestamps with microseconds.
func createItems(t *testing.T, db *dbtest.DB) {
	t.Helper()
	blob, ts := "BLOB", "TIMESTAMP(6)"
	switch db.Dialect {
	case dialect.Postgres:
		blob = "BYTEA"
	case dialect.MySQL:
		ts = "DATETIME(6)"
	}
	db.Exec(t, "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL, note TEXT, amount DECIMAL(12,2), created "+ts+" NULL, data "+blob+" NULL)")
	db.Exec(t, "CREATE INDEX items_name_idx ON items (name)")
	at := time.Date(2024, 2, 29, 13, 14, 15, 123456000, time.UTC)
	db.Exec(t, "INSERT INTO items (id, name, note, amount, created, data) VALUES (?, ?, ?, ?, ?, ?)",
		1, `O'Brien "quoted" \ back\slash`, "line one\nline two\ttab", "1234.56", at, []byte{0, 1, 2, 0xff, '\'', '\\'})
	db.Exec(t, "INSERT INTO items (id, name, note, amount, created, data) VALUES (?, ?, ?, ?, ?, ?)",
		2, "Zoë – 日本語 – emoji 🚀", nil, nil, nil, nil)
	for i := 3; i <= 300; i++ {
		db.Exec(t, "INSERT INTO items (id, name, note, amount, created, data) VALUES (?, ?, ?, ?, ?, ?)",
			i, fmt.Sprintf("item %03d", i), strings.Repeat("x", i), fmt.Sprintf("%d.%02d", i, i%100), at.Add(time.Duration(i)*time.Hour), []byte(fmt.Sprint(i)))
	}
}

// items returns every row of items, each formatted with its Go values.
func items(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	rows, err := db.Raw("SELECT id, name, note, amount, created, data FROM items ORDER BY id").Rows()
	if err != nil {
		t.Fatalf("read items: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals := make([]any, 6)
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("scan items: %v", err)
		}
		out = append(out, fmt.Sprintf("%#v", vals))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("read items: %v", err)
	}
	return out
}

func target(t *testing.T, dsn string) dialect.Target {
	t.Helper()
	tg, err := dialect.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// closePools closes db's main pool: an SQLite file must not be open while a
// backup is copied over it.
func closePools(t *testing.T, db *dbtest.DB) {
	t.Helper()
	sqlDB, err := db.Gorm.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.Close(); err != nil {
		t.Fatal(err)
	}
}

// restoreAndCompare restores file into a fresh database of the same
// dialect and checks that it holds exactly the rows and the index of src.
func restoreAndCompare(t *testing.T, src *dbtest.DB, file string, want []string) {
	t.Helper()
	ctx := context.Background()
	fresh := dbtest.New(t, src.Dialect)
	closePools(t, fresh)
	if err := backup.Restore(ctx, target(t, fresh.DSN), file); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	restored := fresh.Open(t)
	got := items(t, restored)
	if !slices.Equal(got, want) {
		t.Fatalf("restored %d rows, want %d; first difference:\n%s", len(got), len(want), firstDiff(got, want))
	}
	if !restored.Migrator().HasIndex("items", "items_name_idx") {
		t.Errorf("the index items_name_idx was not restored")
	}
}

func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("row %d\n got: %s\nwant: %s", i, g, w)
		}
	}
	return "none"
}

func TestBackupRestoresTheSameRows(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		createItems(t, db)
		want := items(t, db.Gorm)
		if len(want) != 300 {
			t.Fatalf("source has %d rows, want 300", len(want))
		}
		out := filepath.Join(t.TempDir(), "app.backup")
		res, err := backup.Backup(context.Background(), db.Gorm, target(t, db.DSN), out)
		if err != nil {
			t.Fatalf("Backup: %v", err)
		}
		info, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		if res.File != out || res.Bytes != info.Size() || res.Bytes == 0 {
			t.Errorf("Result = %+v; file is %s, %d bytes", res, out, info.Size())
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("backup file mode = %v, want 0600", perm)
		}
		wantTool := map[dialect.Name]string{dialect.Postgres: "pg_dump", dialect.MySQL: "dump", dialect.SQLite: "VACUUM INTO"}[db.Dialect]
		if !strings.Contains(res.Tool, wantTool) {
			t.Errorf("Tool = %q, want it to name %s", res.Tool, wantTool)
		}
		restoreAndCompare(t, db, out, want)
	})
}

func TestBackupRefusesToOverwrite(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		createItems(t, db)
		out := filepath.Join(t.TempDir(), "app.backup")
		if err := os.WriteFile(out, []byte("an older backup"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := backup.Backup(context.Background(), db.Gorm, target(t, db.DSN), out)
		if !errors.Is(err, backup.ErrExists) {
			t.Fatalf("Backup over an existing file: %v, want ErrExists", err)
		}
		if !strings.Contains(err.Error(), out) {
			t.Errorf("error does not name the file: %v", err)
		}
		if b, _ := os.ReadFile(out); string(b) != "an older backup" {
			t.Errorf("the existing file was changed to %q", b)
		}
	})
}

func TestRestoreRefusesANonEmptyDatabase(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		createItems(t, db)
		out := filepath.Join(t.TempDir(), "app.backup")
		if _, err := backup.Backup(context.Background(), db.Gorm, target(t, db.DSN), out); err != nil {
			t.Fatal(err)
		}
		db.Exec(t, "DELETE FROM items WHERE id > 1")
		err := backup.Restore(context.Background(), target(t, db.DSN), out)
		if !errors.Is(err, backup.ErrNotEmpty) {
			t.Fatalf("Restore into the source database: %v, want ErrNotEmpty", err)
		}
		if n := db.QueryInt(t, "SELECT COUNT(*) FROM items"); n != 1 {
			t.Errorf("the target was changed: %d rows, want 1", n)
		}
	})
}

// unreachable targets are only parsed: a missing tool is reported before
// any connection is made.
var unreachable = map[dialect.Name]string{
	dialect.Postgres: "postgres://app:S3cret@127.0.0.1:1/shop?sslmode=disable",
	dialect.MySQL:    "app:S3cret@tcp(127.0.0.1:1)/shop",
}

func TestBackupToolMissing(t *testing.T) {
	tests := []struct {
		dialect  dialect.Name
		env      string
		restore  bool
		tool     string
		hintWord string
	}{
		{dialect.Postgres, backup.EnvPGDump, false, "pg_dump", "postgresql-client"},
		{dialect.Postgres, backup.EnvPGRestore, true, "pg_restore", "postgresql-client"},
		{dialect.MySQL, backup.EnvMySQLDump, false, "mariadb-dump or mysqldump", "mariadb-client"},
		{dialect.MySQL, backup.EnvMySQL, true, "mariadb or mysql", "mariadb-client"},
	}
	for _, tt := range tests {
		t.Run(tt.env, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "app.backup")
			tg := target(t, unreachable[tt.dialect])
			do := func() error {
				if tt.restore {
					return backup.Restore(context.Background(), tg, out)
				}
				_, err := backup.Backup(context.Background(), nil, tg, out)
				return err
			}

			// The override names a file that does not exist.
			missing := filepath.Join(dir, "no-such-tool")
			t.Setenv(tt.env, missing)
			err := do()
			var tm *backup.ToolMissingError
			if !errors.Is(err, backup.ErrToolMissing) || !errors.As(err, &tm) {
				t.Fatalf("with %s=%s: %v, want a *ToolMissingError", tt.env, missing, err)
			}
			if tm.Path != missing || tm.Env != tt.env || !strings.Contains(err.Error(), tt.env) {
				t.Errorf("error = %+v (%v), want it to name %s and %s", tm, err, tt.env, missing)
			}
			if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("a file was left behind: %v", serr)
			}

			// Nothing in PATH.
			t.Setenv(tt.env, "")
			t.Setenv("PATH", t.TempDir())
			err = do()
			if !errors.As(err, &tm) || tm.Tool != tt.tool || !strings.Contains(err.Error(), "not found in PATH") || !strings.Contains(tm.Hint, tt.hintWord) {
				t.Fatalf("with an empty PATH: %v, want %q not found in PATH with a hint to install %s", err, tt.tool, tt.hintWord)
			}
			if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("a file was left behind: %v", serr)
			}
		})
	}
}

// fakeTool is a tool that records its arguments, writes a partial backup,
// prints the password it was given to stderr and fails. It answers
// --version as MariaDB's tools do.
const fakeTool = `#!/bin/sh
printf '%s\n' "$@" >> "$FAKE_TOOL_ARGS"
if [ "$1" = "--version" ]; then echo "mariadb-dump from 10.11.19-MariaDB, client 10.19"; exit 0; fi
printf 'partial backup'
echo "fatal: could not connect; PGPASSWORD=$PGPASSWORD" >&2
for a in "$@"; do
	case "$a" in --defaults-extra-file=*) echo "option file:" >&2; cat "${a#--defaults-extra-file=}" >&2 ;; esac
done
exit 3
`

// installFakeTool puts the stand-in at the path env names and returns the
// file it records its arguments in.
func installFakeTool(t *testing.T, env string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the stand-in tool is a shell script")
	}
	dir := t.TempDir()
	tool := filepath.Join(dir, "tool")
	if err := os.WriteFile(tool, []byte(fakeTool), 0o755); err != nil {
		t.Fatal(err)
	}
	argsFile := filepath.Join(dir, "args")
	t.Setenv("FAKE_TOOL_ARGS", argsFile)
	t.Setenv(env, tool)
	return argsFile
}

// checkHidden checks the failure of the stand-in: a *ToolError with its
// message and the password hidden, the password not on its command line,
// argWant on it, and the option file removed.
func checkHidden(t *testing.T, err error, argsFile string, passwords []string, argWant string) {
	t.Helper()
	var te *backup.ToolError
	if !errors.As(err, &te) {
		t.Fatalf("run of a failing tool: %v, want a *ToolError", err)
	}
	for _, pw := range passwords {
		if strings.Contains(err.Error(), pw) {
			t.Errorf("the password (%s) is in the error: %v", pw, err)
		}
	}
	if !strings.Contains(te.Stderr, "could not connect") || !strings.Contains(te.Stderr, "xxxxx") {
		t.Errorf("Stderr = %q, want the tool's message with the password hidden", te.Stderr)
	}
	args, rerr := os.ReadFile(argsFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	for _, pw := range passwords {
		if strings.Contains(string(args), pw) {
			t.Errorf("the password (%s) is on the command line:\n%s", pw, args)
		}
	}
	if !slices.Contains(strings.Split(string(args), "\n"), argWant) {
		t.Errorf("arguments lack %q:\n%s", argWant, args)
	}
	for _, a := range strings.Split(string(args), "\n") {
		if f, ok := strings.CutPrefix(a, "--defaults-extra-file="); ok {
			if _, serr := os.Stat(f); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("the option file %s was not removed: %v", f, serr)
			}
		}
	}
}

// TestBackupToolFailureHidesThePassword runs a failing stand-in for each
// dump tool: the password must reach it (through the environment or the
// option file) but neither its command line nor the error, and no partial
// file may remain.
func TestBackupToolFailureHidesThePassword(t *testing.T) {
	tests := []struct {
		name, env, dsn string
		passwords      []string // every spelling that must not appear
		argWant        string   // an argument the tool must get
	}{
		{"postgres URL", backup.EnvPGDump, "postgres://app:S3cr%40t%2Fpw@127.0.0.1:5432/shop?sslmode=disable&search_path=x",
			[]string{"S3cr@t/pw", "S3cr%40t%2Fpw"}, "--dbname=postgres://app@127.0.0.1:5432/shop?sslmode=disable"},
		{"postgres URL query password", backup.EnvPGDump, "postgres://app@127.0.0.1:5432/shop?password=S3cr%26t-pw",
			[]string{"S3cr&t-pw", "S3cr%26t-pw"}, "--dbname=postgres://app@127.0.0.1:5432/shop"},
		{"postgres key=value", backup.EnvPGDump, `host=127.0.0.1 user=app password='S3 cr\'et-pw' dbname=shop`,
			[]string{`S3 cr'et-pw`, `'S3 cr\'et-pw'`}, "--dbname=host='127.0.0.1' user='app' dbname='shop'"},
		{"mysql", backup.EnvMySQLDump, `app:S3cr"t\pw@tcp(127.0.0.1:3306)/shop`,
			[]string{`S3cr"t\pw`, `S3cr\"t\\pw`}, "--user=app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argsFile := installFakeTool(t, tt.env)
			out := filepath.Join(t.TempDir(), "app.backup")
			_, err := backup.Backup(context.Background(), nil, target(t, tt.dsn), out)
			checkHidden(t, err, argsFile, tt.passwords, tt.argWant)
			if _, serr := os.Stat(out); !errors.Is(serr, os.ErrNotExist) {
				t.Errorf("the partial backup was left behind: %v", serr)
			}
		})
	}
}

// TestRestoreToolFailureHidesThePassword does the same for pg_restore, on a
// real empty database (the server trusts local connections, so the
// password in the DSN does not stop the emptiness check).
func TestRestoreToolFailureHidesThePassword(t *testing.T) {
	db := dbtest.New(t, dialect.Postgres)
	const pw = "S3cr@t/pw"
	dsn, ok := strings.CutPrefix(db.DSN, "postgres://root@")
	if !ok {
		t.Skipf("the test server's DSN %s is not postgres://root@...", dialect.Redact(db.DSN))
	}
	userinfo := url.UserPassword("root", pw).String() // root:S3cr%40t%2Fpw
	dsn = "postgres://" + userinfo + "@" + dsn
	file := filepath.Join(t.TempDir(), "app.dump")
	if err := os.WriteFile(file, []byte("a backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	argsFile := installFakeTool(t, backup.EnvPGRestore)
	err := backup.Restore(context.Background(), target(t, dsn), file)
	checkHidden(t, err, argsFile, []string{pw, strings.TrimPrefix(userinfo, "root:")}, file)
}

// TestMySQLPasswordReachesTheTools backs up and restores as a MySQL user
// whose password holds the characters option files treat specially.
func TestMySQLPasswordReachesTheTools(t *testing.T) {
	src := dbtest.New(t, dialect.MySQL)
	dst := dbtest.New(t, dialect.MySQL)
	createItems(t, src)
	want := items(t, src.Gorm)

	user := "tandem_bk_" + strings.TrimPrefix(src.Name, "tandem_t_")
	const pw = `p"a\ss#w;rd 'x`
	lit := "'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(pw) + "'"
	src.Exec(t, "CREATE USER '"+user+"'@'%' IDENTIFIED BY "+lit)
	t.Cleanup(func() { src.Gorm.Exec("DROP USER IF EXISTS '" + user + "'@'%'") })
	for _, d := range []*dbtest.DB{src, dst} {
		src.Exec(t, "GRANT ALL ON `"+d.Name+"`.* TO '"+user+"'@'%'")
	}
	as := func(d *dbtest.DB) dialect.Target {
		cfg, err := mysql.ParseDSN(d.DSN)
		if err != nil {
			t.Fatal(err)
		}
		cfg.User, cfg.Passwd = user, pw
		return target(t, cfg.FormatDSN())
	}

	out := filepath.Join(t.TempDir(), "app.sql")
	if _, err := backup.Backup(context.Background(), nil, as(src), out); err != nil {
		t.Fatalf("Backup as %s: %v", user, err)
	}
	if err := backup.Restore(context.Background(), as(dst), out); err != nil {
		t.Fatalf("Restore as %s: %v", user, err)
	}
	if got := items(t, dst.Gorm); !slices.Equal(got, want) {
		t.Fatalf("restored %d rows, want %d; first difference:\n%s", len(got), len(want), firstDiff(got, want))
	}

	// A wrong password: the tool's error is shown, the password is not.
	wrong := as(src)
	wrong.DSN = strings.Replace(wrong.DSN, pw, pw+"-wrong", 1)
	_, err := backup.Backup(context.Background(), nil, wrong, filepath.Join(t.TempDir(), "x.sql"))
	var te *backup.ToolError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "Access denied") {
		t.Fatalf("Backup with a wrong password: %v, want the tool's Access denied", err)
	}
	if strings.Contains(err.Error(), pw) {
		t.Errorf("the password is in the error: %v", err)
	}
}
