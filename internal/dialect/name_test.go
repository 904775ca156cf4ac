package dialect_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/internal/dialect"
)

func TestParseName(t *testing.T) {
	tests := []struct {
		in      string
		want    dialect.Name
		wantErr bool
	}{
		{"postgres", dialect.Postgres, false},
		{"PostgreSQL", dialect.Postgres, false},
		{" pg ", dialect.Postgres, false},
		{"mysql", dialect.MySQL, false},
		{"MariaDB", dialect.MySQL, false},
		{"sqlite", dialect.SQLite, false},
		{"sqlite3", dialect.SQLite, false},
		{"oracle", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := dialect.ParseName(tt.in)
			if got != tt.want {
				t.Errorf("ParseName(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if tt.wantErr {
				if !errors.Is(err, dialect.ErrUnknownDialect) {
					t.Fatalf("error %v does not wrap ErrUnknownDialect", err)
				}
				for _, n := range []string{"postgres", "mysql", "sqlite"} {
					if !strings.Contains(err.Error(), n) {
						t.Errorf("error %q does not list %q", err, n)
					}
				}
			} else if err != nil {
				t.Errorf("ParseName(%q): %v", tt.in, err)
			}
			if !tt.wantErr && !got.Valid() {
				t.Errorf("%q is not Valid", got)
			}
		})
	}
}

func TestNames(t *testing.T) {
	for _, n := range dialect.Names() {
		back, err := dialect.ParseName(string(n))
		if err != nil || back != n {
			t.Errorf("ParseName(%q) = %q, %v", n, back, err)
		}
	}
}

func TestQuoteIdent(t *testing.T) {
	tests := []struct {
		dialect dialect.Name
		in      string
		want    string
	}{
		{dialect.Postgres, "users", `"users"`},
		{dialect.Postgres, `we"ird`, `"we""ird"`},
		{dialect.SQLite, `a"b"`, `"a""b"""`},
		{dialect.SQLite, "with`tick", "\"with`tick\""},
		{dialect.MySQL, "users", "`users`"},
		{dialect.MySQL, "we`ird", "`we``ird`"},
		{dialect.MySQL, `dq"`, "`dq\"`"},
	}
	for _, tt := range tests {
		t.Run(string(tt.dialect)+"/"+tt.in, func(t *testing.T) {
			if got := dialect.QuoteIdent(tt.dialect, tt.in); got != tt.want {
				t.Errorf("QuoteIdent = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestOfNil(t *testing.T) {
	if got := dialect.Of(nil); got != "" {
		t.Errorf("Of(nil) = %q", got)
	}
}
func TestTuple(t *testing.T) {
	for n, want := range map[int]string{1: "( ?)", 3: "( ?, ?, ?)"} {
		if got := dialect.Tuple(n); got != want {
			t.Errorf("Tuple(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestPlaceholders: "?" becomes $n on PostgreSQL, outside quoted
// identifiers, literals and comments, and stays "?" elsewhere.
func TestPlaceholders(t *testing.T) {
	for _, tt := range []struct {
		n       dialect.Name
		in, out string
	}{
		{dialect.Postgres, `UPDATE "t" SET "a" = ? WHERE "id" IN ( ?, ?)`, `UPDATE "t" SET "a" = $1 WHERE "id" IN ( $2, $3)`},
		{dialect.Postgres, `SELECT "odd?col", 'why?', ? FROM "t""?"`, `SELECT "odd?col", 'why?', $1 FROM "t""?"`},
		{dialect.Postgres, `SELECT 1`, `SELECT 1`},
		{dialect.Postgres, "SELECT ? -- why?\n, ?", "SELECT $1 -- why?\n, $2"},
		{dialect.Postgres, "SELECT ? /* a? /* b? */ c? */ , ? /* d?", "SELECT $1 /* a? /* b? */ c? */ , $2 /* d?"},
		{dialect.Postgres, "SELECT ? - -?, 'it''s -- ?', ?/2", "SELECT $1 - -$2, 'it''s -- ?', $3/2"},
		{dialect.MySQL, "UPDATE `t` SET `a` = ?", "UPDATE `t` SET `a` = ?"},
		{dialect.SQLite, `UPDATE "t" SET "a" = ?`, `UPDATE "t" SET "a" = ?`},
	} {
		if got := dialect.Placeholders(tt.n, tt.in); got != tt.out {
			t.Errorf("Placeholders(%s, %q) = %q, want %q", tt.n, tt.in, got, tt.out)
		}
	}
}
