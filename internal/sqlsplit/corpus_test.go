package sqlsplit_test

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/sqlsplit"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/corpus")

// corpusFiles lists testdata/corpus/NAME.DIALECT.sql, the dialect named
// like a migration file's suffix.
func corpusFiles(tb testing.TB) []string {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.sql"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(files) == 0 {
		tb.Fatal("no corpus files under testdata/corpus")
	}
	return files
}

func corpusDialect(tb testing.TB, file string) sqlsplit.Dialect {
	tb.Helper()
	name := strings.TrimSuffix(filepath.Base(file), ".sql")
	d := sqlsplit.Dialect(name[strings.LastIndexByte(name, '.')+1:])
	if !slices.Contains(dialects, d) {
		tb.Fatalf("%s: name it NAME.postgres.sql, NAME.mysql.sql or NAME.sqlite.sql", file)
	}
	return d
}

// render is the golden form of a Split result.
func render(d sqlsplit.Dialect, stmts []sqlsplit.Statement, opts sqlsplit.Options, err error) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dialect: %s\n", d)
	if err != nil {
		var se *sqlsplit.SyntaxError
		if !errors.As(err, &se) {
			fmt.Fprintf(&b, "unexpected error type %T: ", err)
		}
		fmt.Fprintf(&b, "error: %v\n", err)
		return b.String()
	}
	fmt.Fprintf(&b, "no-transaction: %t\n", opts.NoTransaction)
	keys := make([]string, 0, len(opts.Annotations))
	for k := range opts.Annotations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "annotation: %s = %q\n", k, opts.Annotations[k])
	}
	fmt.Fprintf(&b, "statements: %d\n", len(stmts))
	for i, st := range stmts {
		fmt.Fprintf(&b, "\n=== statement %d, line %d\n%s\n", i+1, st.Line, st.SQL)
	}
	return b.String()
}

func TestCorpus(t *testing.T) {
	files := corpusFiles(t)
	if len(files) < 12 {
		t.Errorf("corpus has %d files, want at least 12", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".sql")
		t.Run(name, func(t *testing.T) {
			d := corpusDialect(t, file)
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			stmts, opts, err := sqlsplit.Split(d, string(src))
			got := render(d, stmts, opts, err)
			golden := strings.TrimSuffix(file, ".sql") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("Split(%s, %s) differs from %s (run go test -update if the change is intended)\n--- got\n%s\n--- want\n%s", d, file, golden, got, want)
			}
		})
	}
}
