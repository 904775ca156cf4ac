package cli

// An internal test: backupBefore is the hook the phase commands call, and
// is not reachable through Main alone.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/backup"
	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/migrations"
)

type backupRun struct {
	code     int
	out, err string
}

func runBackupCLI(t *testing.T, args ...string) backupRun {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return backupRun{code, out.String(), errb.String()}
}

// backupFixture fills a table whose rows a restore must reproduce.
func backupFixture(t *testing.T, db *dbtest.DB) {
	t.Helper()
	db.Exec(t, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL, note TEXT)")
	for i := 1; i <= 50; i++ {
		db.Exec(t, "INSERT INTO customers (id, name, note) VALUES (?, ?, ?)", i, fmt.Sprintf("customer %d – ü 'q' \\", i), strings.Repeat("n", i))
	}
}

func backupRows(t *testing.T, db *dbtest.DB) []string {
	t.Helper()
	var rows []struct {
		ID   int
		Name string
		Note string
	}
	if err := db.Open(t).Raw("SELECT id, name, note FROM customers ORDER BY id").Scan(&rows).Error; err != nil {
		t.Fatalf("read customers: %v", err)
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = fmt.Sprintf("%d|%s|%s", r.ID, r.Name, r.Note)
	}
	return out
}

// restoreBackup restores file into a fresh database and returns its rows.
func restoreBackup(t *testing.T, name dialect.Name, file string) []string {
	t.Helper()
	fresh := dbtest.New(t, name)
	if sqlDB, err := fresh.Gorm.DB(); err == nil {
		_ = sqlDB.Close() // an SQLite file must not be open while it is replaced
	}
	tg, err := dialect.ParseDSN(fresh.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if err := backup.Restore(context.Background(), tg, file); err != nil {
		t.Fatalf("restore the backup: %v", err)
	}
	return backupRows(t, fresh)
}

func backupEvents(t *testing.T, db *dbtest.DB) []store.Event {
	t.Helper()
	var backups []store.Event
	events, err := store.Events(context.Background(), db.Open(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if e.Action == "backup" {
			backups = append(backups, e)
		}
	}
	return backups
}

func TestBackupCommand(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		backupFixture(t, db)
		want := backupRows(t, db)
		dir := t.TempDir()

		// A database tandem does not manage yet: backed up, not journaled,
		// and no tandem_ table is created for the journal.
		first := filepath.Join(dir, "first.backup")
		r := runBackupCLI(t, "backup", "--dsn", db.DSN, "--out", first)
		if r.code != 0 {
			t.Fatalf("backup = %d\nstdout: %s\nstderr: %s", r.code, r.out, r.err)
		}
		info, err := os.Stat(first)
		if err != nil {
			t.Fatalf("no backup file: %v", err)
		}
		tool := map[dialect.Name]string{dialect.Postgres: "pg_dump", dialect.MySQL: "dump", dialect.SQLite: "VACUUM INTO"}[db.Dialect]
		for _, s := range []string{"backup: " + first, fmt.Sprintf("size: %d bytes", info.Size()), "tool: ", tool, "journal: not journaled"} {
			if !strings.Contains(r.out, s) {
				t.Errorf("output lacks %q:\n%s", s, r.out)
			}
		}
		if tables := db.Tables(t); !slices.Equal(tables, []string{"customers"}) {
			t.Errorf("tables after backing up an unmanaged database = %v, want only customers", tables)
		}
		if got := restoreBackup(t, db.Dialect, first); !slices.Equal(got, want) {
			t.Fatalf("restored rows differ:\n got %d: %.200v\nwant %d: %.200v", len(got), got, len(want), want)
		}

		// The same file again: refused, the first backup untouched.
		r = runBackupCLI(t, "backup", "--dsn", db.DSN, "--out", first)
		if r.code != 1 || !strings.Contains(r.err, "refusing to overwrite") || !strings.Contains(r.err, first) {
			t.Errorf("backup over an existing file = %d, want 1 and a refusal\nstderr: %s", r.code, r.err)
		}
		if again, _ := os.Stat(first); again.Size() != info.Size() || !again.ModTime().Equal(info.ModTime()) {
			t.Errorf("the existing backup was touched")
		}

		// A managed database: the backup is journaled with its file name.
		if r := runBackupCLI(t, "init", "--dsn", db.DSN); r.code != 0 {
			t.Fatalf("init = %d: %s", r.code, r.err)
		}
		second := filepath.Join(dir, "second.backup")
		r = runBackupCLI(t, "backup", "--dsn", db.DSN, "--out", second, "--json")
		if r.code != 0 {
			t.Fatalf("backup --json = %d\nstderr: %s", r.code, r.err)
		}
		var res struct {
			File      string `json:"file"`
			Bytes     int64  `json:"bytes"`
			Tool      string `json:"tool"`
			Journaled bool   `json:"journaled"`
		}
		if err := json.Unmarshal([]byte(r.out), &res); err != nil {
			t.Fatalf("backup --json: %v\n%s", err, r.out)
		}
		if res.File != second || res.Bytes == 0 || !strings.Contains(res.Tool, tool) || !res.Journaled {
			t.Errorf("backup --json = %+v", res)
		}
		events := backupEvents(t, db)
		if len(events) != 1 || !strings.Contains(events[0].Detail, second) {
			t.Errorf("journal backup events = %+v, want one naming %s", events, second)
		}
		if got := restoreBackup(t, db.Dialect, second); !slices.Equal(got, want) {
			t.Errorf("rows restored from the journaled backup differ")
		}
	})
}

func TestBackupCommandUsage(t *testing.T) {
	r := runBackupCLI(t, "backup", "--dsn", "sqlite::memory:")
	if r.code != 2 || !strings.Contains(r.err, "--out is required") {
		t.Errorf("backup without --out = %d\nstderr: %s", r.code, r.err)
	}
	r = runBackupCLI(t, "backup", "--dsn", "sqlite::memory:", "--out", filepath.Join(t.TempDir(), "x.db"), "extra")
	if r.code != 2 || !strings.Contains(r.err, `unexpected argument "extra"`) {
		t.Errorf("backup with an argument = %d\nstderr: %s", r.code, r.err)
	}
	h := runBackupCLI(t, "help", "backup")
	for _, s := range []string{"Usage: tandem backup --out FILE", "-out", "-dsn", "Example:\n  tandem backup --dsn", "TANDEM_PG_DUMP"} {
		if h.code != 0 || !strings.Contains(h.out, s) {
			t.Errorf("help backup lacks %q:\n%s", s, h.out)
		}
	}
	if strings.Contains(h.out, "-lock-timeout") || strings.Contains(h.out, "-dir") {
		t.Errorf("help backup lists flags a backup ignores:\n%s", h.out)
	}
}

// TestBackupCommandToolMissing: exit 1, a message that says what to
// install, no file, and no password in anything printed.
func TestBackupCommandToolMissing(t *testing.T) {
	for _, name := range []dialect.Name{dialect.Postgres, dialect.MySQL} {
		t.Run(string(name), func(t *testing.T) {
			db := dbtest.New(t, name)
			env := map[dialect.Name]string{dialect.Postgres: backup.EnvPGDump, dialect.MySQL: backup.EnvMySQLDump}[name]
			t.Setenv(env, filepath.Join(t.TempDir(), "missing-tool"))
			out := filepath.Join(t.TempDir(), "app.backup")
			r := runBackupCLI(t, "backup", "--dsn", db.DSN, "--out", out)
			if r.code != 1 || !strings.Contains(r.err, "not found at") || !strings.Contains(r.err, env) {
				t.Errorf("backup with a missing tool = %d, want 1 and a message naming %s\nstderr: %s", r.code, env, r.err)
			}
			t.Setenv(env, "")
			t.Setenv("PATH", t.TempDir())
			r = runBackupCLI(t, "backup", "--dsn", db.DSN, "--out", out)
			if r.code != 1 || !strings.Contains(r.err, "not found in PATH") || !strings.Contains(r.err, "install") {
				t.Errorf("backup with no tool in PATH = %d, want 1 and an install hint\nstderr: %s", r.code, r.err)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a file was created: %v", err)
			}
		})
	}
}

// TestBackupCommandHidesThePassword runs a failing pg_dump stand-in that
// prints the password it was given. PostgreSQL trusts local connections,
// so a DSN with a password still opens the database.
func TestBackupCommandHidesThePassword(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the stand-in tool is a shell script")
	}
	db := dbtest.New(t, dialect.Postgres)
	rest, ok := strings.CutPrefix(db.DSN, "postgres://root@")
	if !ok {
		t.Skipf("the test server's DSN %s is not postgres://root@...", dialect.Redact(db.DSN))
	}
	const pw = "Sup3r-S3cret"
	dsn := "postgres://root:" + pw + "@" + rest
	tool := filepath.Join(t.TempDir(), "pg_dump")
	script := "#!/bin/sh\necho \"pg_dump: error: connection failed for $* with password $PGPASSWORD\" >&2\nexit 1\n"
	if err := os.WriteFile(tool, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(backup.EnvPGDump, tool)
	out := filepath.Join(t.TempDir(), "app.dump")
	r := runBackupCLI(t, "backup", "--dsn", dsn, "--out", out, "-v")
	if r.code != 1 || !strings.Contains(r.err, "connection failed") {
		t.Fatalf("backup with a failing tool = %d, want 1 and its message\nstderr: %s", r.code, r.err)
	}
	if strings.Contains(r.out+r.err, pw) {
		t.Errorf("the password was printed:\n%s%s", r.out, r.err)
	}
	if !strings.Contains(r.err, "password xxxxx") {
		t.Errorf("the tool's stderr was not shown scrubbed:\n%s", r.err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the partial file was left: %v", err)
	}
}

// TestBackupBeforePhase checks the hook of expand and contract --backup: a
// failed backup returns an error and changes nothing; a good one leaves a
// restorable file and a journal entry under the phase's release.
func TestBackupBeforePhase(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, db *dbtest.DB) {
		backupFixture(t, db)
		want := backupRows(t, db)
		if r := runBackupCLI(t, "init", "--dsn", db.DSN); r.code != 0 {
			t.Fatalf("init = %d: %s", r.code, r.err)
		}
		tablesBefore := db.Tables(t)
		var stderr bytes.Buffer
		a := initApp(Streams{In: strings.NewReader(""), Out: &bytes.Buffer{}, Err: &stderr}, settings{})
		cfg := &runConfig{dsn: db.DSN, release: "2.0"}
		dir := t.TempDir()

		// Refused: the file exists. Nothing changes, not even the journal.
		taken := filepath.Join(dir, "taken")
		if err := os.WriteFile(taken, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		err := a.backupBefore(context.Background(), cfg, taken)
		if !errors.Is(err, backup.ErrExists) || !strings.Contains(err.Error(), "nothing was changed") {
			t.Errorf("backupBefore onto an existing file: %v", err)
		}
		if db.Dialect != dialect.SQLite {
			env := map[dialect.Name]string{dialect.Postgres: backup.EnvPGDump, dialect.MySQL: backup.EnvMySQLDump}[db.Dialect]
			t.Setenv(env, filepath.Join(dir, "missing-tool"))
			err := a.backupBefore(context.Background(), cfg, filepath.Join(dir, "none"))
			if !errors.Is(err, backup.ErrToolMissing) || migrations.ExitCode(err) != 1 {
				t.Errorf("backupBefore with a missing tool: %v", err)
			}
			t.Setenv(env, "")
		}
		if n := len(backupEvents(t, db)); n != 0 {
			t.Errorf("failed backups were journaled: %d events", n)
		}
		if after := db.Tables(t); !slices.Equal(after, tablesBefore) {
			t.Errorf("tables changed: %v, want %v", after, tablesBefore)
		}

		// Taken: journaled under the release, announced on stderr.
		file := filepath.Join(dir, "before-2.0.backup")
		if err := a.backupBefore(context.Background(), cfg, file); err != nil {
			t.Fatalf("backupBefore: %v", err)
		}
		if !strings.Contains(stderr.String(), "backup written to "+file) {
			t.Errorf("stderr = %q, want the backup announced", stderr.String())
		}
		events := backupEvents(t, db)
		if len(events) != 1 || events[0].Release != "2.0" || !strings.Contains(events[0].Detail, file) {
			t.Errorf("journal backup events = %+v, want one for 2.0 naming %s", events, file)
		}
		if got := restoreBackup(t, db.Dialect, file); !slices.Equal(got, want) {
			t.Errorf("rows restored from the backup differ")
		}
	})
}
