package migrations_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"gorm.io/gorm"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cli.dir != "" {
		_ = os.RemoveAll(cli.dir)
	}
	os.Exit(code)
}

// files is a migration directory: file name to content.
type files map[string]string

// fsys returns the files as an fs.FS.
func (f files) fsys() fs.FS {
	m := fstest.MapFS{}
	for name, content := range f {
		m[name] = &fstest.MapFile{Data: []byte(content), Mode: 0o644}
	}
	return m
}

// with returns a copy of f with the given files added or replaced.
func (f files) with(more files) files {
	out := files{}
	for k, v := range f {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// writeDir writes f into a fresh directory and returns its path.
func (f files) writeDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range f {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// ver parses a release.
func ver(s string) versions.Version { return versions.MustParse(s) }

// newRunner builds a runner or fails the test.
func newRunner(t *testing.T, g *gorm.DB, f files, opts ...migrations.Option) *migrations.Runner {
	t.Helper()
	r, err := migrations.New(g, f.fsys(), opts...)
	if err != nil {
		t.Fatalf("migrations.New: %v", err)
	}
	return r
}

// logLine is a migration statement that appends id to order_log, so a
// test can read back the order in which migrations ran. It works on every
// dialect (MySQL reads the table into a temporary one first).
func logLine(id string) string {
	return fmt.Sprintf("INSERT INTO order_log (pos, id) SELECT COUNT(*) + 1, '%s' FROM order_log;\n", id)
}

// createOrderLog is the statement that creates order_log.
const createOrderLog = "CREATE TABLE order_log (pos INT NOT NULL, id VARCHAR(64) NOT NULL);\n"

// orderLog returns the ids in order_log, in the order they were written.
func orderLog(t *testing.T, db *dbtest.DB) []string {
	t.Helper()
	var ids []string
	if err := db.Gorm.Raw("SELECT id FROM order_log ORDER BY pos").Scan(&ids).Error; err != nil {
		t.Fatalf("read order_log: %v", err)
	}
	return ids
}

// history returns the tandem_migrations rows by id.
func history(t *testing.T, g *gorm.DB) map[string]store.Migration {
	t.Helper()
	rows, err := store.History(context.Background(), g)
	if err != nil {
		t.Fatalf("read history: %v", err)
	}
	out := map[string]store.Migration{}
	for _, r := range rows {
		out[r.ID] = r
	}
	return out
}

// historyIDs returns the ids in the history with the given status, sorted.
func historyIDs(t *testing.T, g *gorm.DB, status string) []string {
	t.Helper()
	var ids []string
	for id, r := range history(t, g) {
		if r.Status == status {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// states returns tandem_releases as release -> state.
func states(t *testing.T, g *gorm.DB) map[string]string {
	t.Helper()
	rows, err := store.ReleaseStates(context.Background(), g)
	if err != nil {
		t.Fatalf("read release states: %v", err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.Release] = r.State
	}
	return out
}

// journal returns the journal events with the given action.
func journal(t *testing.T, g *gorm.DB, action string) []store.Event {
	t.Helper()
	events, err := store.Events(context.Background(), g, 0)
	if err != nil {
		t.Fatalf("read journal: %v", err)
	}
	var out []store.Event
	for _, e := range events {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// hasTable reports whether the database has table name.
func hasTable(t *testing.T, db *dbtest.DB, name string) bool {
	t.Helper()
	return slices.Contains(db.Tables(t), name)
}

// wantColumns fails the test unless table has exactly the columns want.
func wantColumns(t *testing.T, db *dbtest.DB, table string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if got := db.Columns(t, table); !slices.Equal(got, want) {
		t.Fatalf("columns of %s = %v, want %v", table, got, want)
	}
}

// wantEqual fails the test when got differs from want.
func wantEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// wantSlice fails the test when got differs from want (nil equals empty).
func wantSlice[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// wantMap fails the test when got differs from want.
func wantMap(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}
}

// asError fails the test unless err is (or wraps) an E, and returns it.
func asError[E error](t *testing.T, err error) E {
	t.Helper()
	var target E
	if !errors.As(err, &target) {
		t.Fatalf("error %v (%T) is not a %T", err, err, target)
	}
	return target
}

// snapshot describes the schema (every table and its columns) and the
// content of every tandem_ table, so two snapshots are equal when nothing
// changed.
func snapshot(t *testing.T, db *dbtest.DB) string {
	t.Helper()
	var b strings.Builder
	for _, table := range db.Tables(t) {
		fmt.Fprintf(&b, "table %s %v\n", table, db.Columns(t, table))
		if strings.HasPrefix(table, "tandem_") {
			for _, row := range dumpRows(t, db, table) {
				fmt.Fprintf(&b, "  %s\n", row)
			}
		}
	}
	return b.String()
}

// dumpRows returns every row of table as a line of text, sorted.
func dumpRows(t *testing.T, db *dbtest.DB, table string) []string {
	t.Helper()
	rows, err := db.Gorm.Raw("SELECT * FROM " + dialect.QuoteIdent(db.Dialect, table)).Rows()
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("read %s: %v", table, err)
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
	sort.Strings(out)
	return out
}

// bind returns a *gorm.DB bound to one connection of g's pool, as
// db.Connection hands it to its callback. The connection goes back to the
// pool at cleanup.
func bind(t *testing.T, g *gorm.DB) *gorm.DB {
	t.Helper()
	sqlDB, err := g.DB()
	if err != nil {
		t.Fatal(err)
	}
	c, err := sqlDB.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	conn := g.Session(&gorm.Session{NewDB: true, Context: context.Background()})
	conn.Statement.ConnPool = c
	return conn
}

// logRecorder collects a runner's log lines and can signal the first line
// that contains a given text.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
	hooks []logHook
}

type logHook struct {
	text string
	once *sync.Once
	fn   func()
}

// on runs fn once, from the logging goroutine, at the first line that
// contains text.
func (r *logRecorder) on(text string, fn func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hooks = append(r.hooks, logHook{text: text, once: &sync.Once{}, fn: fn})
}

func (r *logRecorder) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.lines = append(r.lines, line)
	hooks := slices.Clone(r.hooks)
	r.mu.Unlock()
	for _, h := range hooks {
		if strings.Contains(line, h.text) {
			h.once.Do(h.fn)
		}
	}
}

func (r *logRecorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// cli holds the commands built once for the tests that run them: the stock
// tandem command, and for the benchmarks the shop's own (shop-tandem).
var cli struct {
	mu    sync.Mutex
	dir   string
	paths map[string]string // package path to binary
	errs  map[string]error
}

// cliBinary builds the tandem command once per test binary and returns its
// path. It skips the test when the go command is not on PATH.
func cliBinary(t testing.TB) string {
	t.Helper()
	return goBinary(t, "github.com/tandemdb/tandem/cmd/tandem")
}

// goBinary builds the main package pkg once per test binary and returns its
// path. It skips the test when the go command is not on PATH.
func goBinary(t testing.TB, pkg string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not on PATH, so %s cannot be built: %v", pkg, err)
	}
	cli.mu.Lock()
	defer cli.mu.Unlock()
	if cli.paths == nil {
		cli.paths, cli.errs = map[string]string{}, map[string]error{}
	}
	if _, done := cli.paths[pkg]; !done {
		if cli.dir == "" {
			if cli.dir, err = os.MkdirTemp("", "tandem-cli-"); err != nil {
				t.Fatalf("build %s: %v", pkg, err)
			}
		}
		path := filepath.Join(cli.dir, filepath.Base(pkg))
		cli.paths[pkg] = path
		if out, err := exec.Command(goTool, "build", "-o", path, pkg).CombinedOutput(); err != nil {
			cli.errs[pkg] = fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	if err := cli.errs[pkg]; err != nil {
		t.Fatalf("build %s: %v", pkg, err)
	}
	return cli.paths[pkg]
}

// runCLI runs the tandem command and returns its exit code and output.
func runCLI(ctx context.Context, t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "TANDEM_ACTOR=test@cli")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	}
	t.Errorf("run tandem %v: %v", args, err)
	return -1, string(out)
}
