package sqlsplit_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/sqlsplit"
)

var dialects = []sqlsplit.Dialect{sqlsplit.Postgres, sqlsplit.MySQL, sqlsplit.SQLite}

// FuzzSplit checks, for every dialect, that Split does not panic, that its
// statements are pieces of the input in order, that a syntax error names a
// line of the input, and that joining the statements with ";\n" and
// splitting again gives the same statements (MySQL inputs with DELIMITER
// lines excepted).
func FuzzSplit(f *testing.F) {
	for _, file := range corpusFiles(f) {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(src))
	}
	f.Fuzz(func(t *testing.T, src string) {
		lines := 1 + strings.Count(src, "\n")
		for _, d := range dialects {
			stmts, _, err := sqlsplit.Split(d, src)
			if err != nil {
				var se *sqlsplit.SyntaxError
				if !errors.As(err, &se) {
					t.Fatalf("%s: error %v is not a *SyntaxError", d, err)
				}
				if se.Line < 1 || se.Line > lines {
					t.Fatalf("%s: error on line %d of a %d-line input", d, se.Line, lines)
				}
				continue
			}
			rest, prevLine := src, 1
			for _, st := range stmts {
				if st.SQL == "" || strings.Trim(st.SQL, " \t\r\n\f\v") != st.SQL {
					t.Fatalf("%s: statement %q is empty or untrimmed", d, st.SQL)
				}
				k := strings.Index(rest, st.SQL)
				if k < 0 {
					t.Fatalf("%s: statement %q is not in the input after the previous one", d, st.SQL)
				}
				rest = rest[k+len(st.SQL):]
				if st.Line < prevLine || st.Line > lines {
					t.Fatalf("%s: statement %q on line %d (previous %d, input has %d)", d, st.SQL, st.Line, prevLine, lines)
				}
				prevLine = st.Line
			}
			if d == sqlsplit.MySQL && strings.Contains(strings.ToLower(src), "delimiter") {
				continue // the statements may hold the custom delimiter
			}
			parts := make([]string, len(stmts))
			for i, st := range stmts {
				parts[i] = st.SQL
			}
			resplit(t, d, stmts, strings.Join(parts, ";\n")+";\n")
			// A MySQL statement may end in "--" that is not a comment because
			// a ';' or '#' follows it; at the end of the input it would be one.
			if d != sqlsplit.MySQL || len(parts) == 0 || !strings.HasSuffix(parts[len(parts)-1], "--") {
				resplit(t, d, stmts, strings.Join(parts, ";\n"))
			}
		}
	})
}

// resplit checks that splitting joined, the statements re-joined, gives want.
func resplit(t *testing.T, d sqlsplit.Dialect, want []sqlsplit.Statement, joined string) {
	t.Helper()
	got, _, err := sqlsplit.Split(d, joined)
	if err != nil {
		t.Fatalf("%s: splitting the re-joined statements %q: %v", d, joined, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d statements, %d after re-joining as %q", d, len(want), len(got), joined)
	}
	for i := range got {
		if got[i].SQL != want[i].SQL {
			t.Fatalf("%s: statement %d was %q, is %q after re-joining", d, i+1, want[i].SQL, got[i].SQL)
		}
	}
}
