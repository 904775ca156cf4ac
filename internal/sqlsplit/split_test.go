package sqlsplit_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/tandemdb/tandem/internal/sqlsplit"
)

type stmt = sqlsplit.Statement

func TestSplit(t *testing.T) {
	tests := []struct {
		name string
		d    sqlsplit.Dialect
		src  string
		want []stmt
	}{
		// Shared behaviour.
		{"empty", sqlsplit.Postgres, "", nil},
		{"only delimiters and blanks", sqlsplit.SQLite, " ;\n;\t;", nil},
		{"lines of statements", sqlsplit.SQLite, "SELECT 1;\n\nSELECT\n  2;",
			[]stmt{{"SELECT 1", 1}, {"SELECT\n  2", 3}}},
		{"last statement without delimiter", sqlsplit.MySQL, "SELECT 1;SELECT 2\n",
			[]stmt{{"SELECT 1", 1}, {"SELECT 2", 1}}},
		{"comment-only statements dropped", sqlsplit.Postgres, "SELECT 1; -- done\n/* nothing */;\n-- tail",
			[]stmt{{"SELECT 1", 1}}},
		{"leading and trailing comments are not part of a statement", sqlsplit.Postgres,
			"-- header\n/* block */ SELECT 1 -- trailing\n;",
			[]stmt{{"SELECT 1", 2}}},
		{"inner comments kept", sqlsplit.SQLite, "SELECT 1 /* one; */ + -- two;\n 2;",
			[]stmt{{"SELECT 1 /* one; */ + -- two;\n 2", 1}}},
		{"crlf line endings", sqlsplit.Postgres, "SELECT 1;\r\nSELECT 2;\r\n",
			[]stmt{{"SELECT 1", 1}, {"SELECT 2", 2}}},
		{"byte order mark", sqlsplit.Postgres, "\uFEFFSELECT $$;$$;",
			[]stmt{{"SELECT $$;$$", 1}}},

		// PostgreSQL.
		{"pg doubled quote", sqlsplit.Postgres, "SELECT 'it''s; fine'; SELECT 2",
			[]stmt{{"SELECT 'it''s; fine'", 1}, {"SELECT 2", 1}}},
		{"pg backslash is literal in standard strings", sqlsplit.Postgres, `SELECT 'C:\'; SELECT 2`,
			[]stmt{{`SELECT 'C:\'`, 1}, {"SELECT 2", 1}}},
		{"pg escape string", sqlsplit.Postgres, `SELECT E'it\'s; fine', e'\\'; SELECT 2`,
			[]stmt{{`SELECT E'it\'s; fine', e'\\'`, 1}, {"SELECT 2", 1}}},
		{"pg E ending an identifier is no prefix", sqlsplit.Postgres, `SELECT typE'a\'; SELECT 2`,
			[]stmt{{`SELECT typE'a\'`, 1}, {"SELECT 2", 1}}},
		{"pg quoted identifier", sqlsplit.Postgres, `SELECT "a;""b;"; SELECT 2`,
			[]stmt{{`SELECT "a;""b;"`, 1}, {"SELECT 2", 1}}},
		{"pg empty dollar tag", sqlsplit.Postgres, "SELECT $$a;b$$; SELECT 2",
			[]stmt{{"SELECT $$a;b$$", 1}, {"SELECT 2", 1}}},
		{"pg named dollar tag holds other tags", sqlsplit.Postgres, "SELECT $fn$ $$; $x$; $fn2$ $fn$; SELECT 2",
			[]stmt{{"SELECT $fn$ $$; $x$; $fn2$ $fn$", 1}, {"SELECT 2", 1}}},
		{"pg positional parameters", sqlsplit.Postgres, "SELECT $1; SELECT $2, $3",
			[]stmt{{"SELECT $1", 1}, {"SELECT $2, $3", 1}}},
		{"pg dollar inside identifier", sqlsplit.Postgres, "SELECT a$$b; SELECT 2",
			[]stmt{{"SELECT a$$b", 1}, {"SELECT 2", 1}}},
		{"pg nested block comments", sqlsplit.Postgres, "/* a /* b; */ c; */ SELECT 1; SELECT 2",
			[]stmt{{"SELECT 1", 1}, {"SELECT 2", 1}}},
		{"pg hash is an operator", sqlsplit.Postgres, "SELECT 5 # 3; SELECT 2",
			[]stmt{{"SELECT 5 # 3", 1}, {"SELECT 2", 1}}},
		{"pg dashes without space comment", sqlsplit.Postgres, "SELECT 1 --;\n;",
			[]stmt{{"SELECT 1", 1}}},
		{"pg begin atomic body", sqlsplit.Postgres,
			"CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN true THEN 1 END;\n  SELECT 2;\nEND;\nSELECT 3;",
			[]stmt{{"CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN true THEN 1 END;\n  SELECT 2;\nEND", 1}, {"SELECT 3", 6}}},
		{"pg begin without atomic is no body", sqlsplit.Postgres,
			"CREATE FUNCTION begin() RETURNS int AS $$SELECT 1$$ LANGUAGE sql; SELECT 2;",
			[]stmt{{"CREATE FUNCTION begin() RETURNS int AS $$SELECT 1$$ LANGUAGE sql", 1}, {"SELECT 2", 1}}},
		{"pg transaction statements split", sqlsplit.Postgres, "BEGIN; SELECT 1; END;",
			[]stmt{{"BEGIN", 1}, {"SELECT 1", 1}, {"END", 1}}},
		{"pg backtick is not a quote", sqlsplit.Postgres, "SELECT `a;b`",
			[]stmt{{"SELECT `a", 1}, {"b`", 1}}},
		{"pg delimiter line is text", sqlsplit.Postgres, "DELIMITER //\nSELECT 1//",
			[]stmt{{"DELIMITER //\nSELECT 1//", 1}}},

		// MySQL.
		{"my backslash escapes", sqlsplit.MySQL, `SELECT 'it\'s;', "a\";b"; SELECT 2`,
			[]stmt{{`SELECT 'it\'s;', "a\";b"`, 1}, {"SELECT 2", 1}}},
		{"my doubled quotes", sqlsplit.MySQL, `SELECT 'it''s;', "a"";b"; SELECT 2`,
			[]stmt{{`SELECT 'it''s;', "a"";b"`, 1}, {"SELECT 2", 1}}},
		{"my escaped backslash ends string", sqlsplit.MySQL, `SELECT 'a\\'; SELECT 2`,
			[]stmt{{`SELECT 'a\\'`, 1}, {"SELECT 2", 1}}},
		{"my backticks", sqlsplit.MySQL, "SELECT `a;``b;`; SELECT 2",
			[]stmt{{"SELECT `a;``b;`", 1}, {"SELECT 2", 1}}},
		{"my hash comment", sqlsplit.MySQL, "SELECT 1 # one; two\n+ 1; SELECT 2",
			[]stmt{{"SELECT 1 # one; two\n+ 1", 1}, {"SELECT 2", 2}}},
		{"my dashes need whitespace", sqlsplit.MySQL, "SELECT 1--1; SELECT 2 -- x;\n;SELECT 3--\tx;\n;SELECT 4--",
			[]stmt{{"SELECT 1--1", 1}, {"SELECT 2", 1}, {"SELECT 3", 2}, {"SELECT 4", 3}}},
		{"my dashes before delimiter or comment", sqlsplit.MySQL, "SELECT 1 --;SELECT 2 --#x\n;SELECT 3 --/**/",
			[]stmt{{"SELECT 1 --", 1}, {"SELECT 2 --", 1}, {"SELECT 3 --", 2}}},
		{"my block comments do not nest", sqlsplit.MySQL, "/* a /* b */ SELECT 1; */",
			[]stmt{{"SELECT 1", 1}, {"*/", 1}}},
		{"my no dollar quotes", sqlsplit.MySQL, "SELECT $$; SELECT 2",
			[]stmt{{"SELECT $$", 1}, {"SELECT 2", 1}}},
		{"my delimiter", sqlsplit.MySQL,
			"DELIMITER //\nCREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\nEND//\ndelimiter ;\nSELECT 2;",
			[]stmt{{"CREATE PROCEDURE p()\nBEGIN\n  SELECT 1;\nEND", 2}, {"SELECT 2", 7}}},
		{"my delimiter after word", sqlsplit.MySQL, "  Delimiter $$  trailing\nSELECT 'a$$'$$SELECT 2$$\nDELIMITER ;",
			[]stmt{{"SELECT 'a$$'", 2}, {"SELECT 2", 2}}},
		{"my delimiter line ends a pending statement", sqlsplit.MySQL, "SELECT 1\nDELIMITER //\nSELECT 2//",
			[]stmt{{"SELECT 1", 1}, {"SELECT 2", 3}}},
		{"my delimiter only at line start", sqlsplit.MySQL, "SELECT 1 DELIMITER //;\nSELECT delimiters;",
			[]stmt{{"SELECT 1 DELIMITER //", 1}, {"SELECT delimiters", 2}}},
		{"my delimiter before comment openers", sqlsplit.MySQL, "DELIMITER --\nSELECT 1--SELECT 2--",
			[]stmt{{"SELECT 1", 2}, {"SELECT 2", 2}}},

		// SQLite.
		{"lite trigger", sqlsplit.SQLite,
			"CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE b SET n = CASE WHEN new.x THEN 1 ELSE 2 END;\n  DELETE FROM c;\nEND;\nSELECT 1;",
			[]stmt{{"CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE b SET n = CASE WHEN new.x THEN 1 ELSE 2 END;\n  DELETE FROM c;\nEND", 1}, {"SELECT 1", 5}}},
		{"lite temp trigger with case in when", sqlsplit.SQLite,
			"create temp trigger t before update on a when case when old.x then 1 end begin select 1; end; select 2",
			[]stmt{{"create temp trigger t before update on a when case when old.x then 1 end begin select 1; end", 1}, {"select 2", 1}}},
		{"lite keywords inside words and quotes", sqlsplit.SQLite,
			"CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE b SET begin_at = 'END', \"end\" = 1; END; SELECT 2",
			[]stmt{{"CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE b SET begin_at = 'END', \"end\" = 1; END", 1}, {"SELECT 2", 1}}},
		{"lite transaction statements split", sqlsplit.SQLite, "BEGIN;\nSELECT 1;\nEND;",
			[]stmt{{"BEGIN", 1}, {"SELECT 1", 2}, {"END", 3}}},
		{"lite quoted identifiers", sqlsplit.SQLite, "SELECT [a;b], `c;``d`, \"e;\"\"f\"; SELECT 2",
			[]stmt{{"SELECT [a;b], `c;``d`, \"e;\"\"f\"", 1}, {"SELECT 2", 1}}},
		{"lite backslash is literal", sqlsplit.SQLite, `SELECT 'a\'; SELECT 2`,
			[]stmt{{`SELECT 'a\'`, 1}, {"SELECT 2", 1}}},
		{"lite block comments do not nest", sqlsplit.SQLite, "/* /* */ SELECT 1;",
			[]stmt{{"SELECT 1", 1}}},
		{"lite hash is not a comment", sqlsplit.SQLite, "SELECT 1 # x; SELECT 2",
			[]stmt{{"SELECT 1 # x", 1}, {"SELECT 2", 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := sqlsplit.Split(tt.d, tt.src)
			if err != nil {
				t.Fatalf("Split(%s, %q): %v", tt.d, tt.src, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Split(%s, %q)\n got %+v\nwant %+v", tt.d, tt.src, got, tt.want)
			}
		})
	}
}

func TestSplitOptions(t *testing.T) {
	tests := []struct {
		name string
		d    sqlsplit.Dialect
		src  string
		want sqlsplit.Options
	}{
		{"none", sqlsplit.Postgres, "-- plain comment\nSELECT 1;", sqlsplit.Options{}},
		{"no-transaction", sqlsplit.Postgres, "-- tandem:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);",
			sqlsplit.Options{NoTransaction: true, Annotations: map[string]string{"no-transaction": ""}}},
		{"values and repeats", sqlsplit.Postgres,
			"/* header */\n--   tandem:lock-timeout   5s  \n-- tandem: owner  team a\n-- tandem:lock-timeout 10s\nSELECT 1;",
			sqlsplit.Options{Annotations: map[string]string{"lock-timeout": "10s", "owner": "team a"}}},
		{"value given to no-transaction", sqlsplit.SQLite, "-- tandem:no-transaction yes\n",
			sqlsplit.Options{NoTransaction: true, Annotations: map[string]string{"no-transaction": "yes"}}},
		{"after an empty statement", sqlsplit.SQLite, ";\n-- tandem:a\nSELECT 1;",
			sqlsplit.Options{Annotations: map[string]string{"a": ""}}},
		{"not after the first statement", sqlsplit.Postgres, "SELECT 1;\n-- tandem:no-transaction\nSELECT 2;", sqlsplit.Options{}},
		{"not inside the first statement", sqlsplit.Postgres, "SELECT 1\n-- tandem:no-transaction\n;", sqlsplit.Options{}},
		{"not in block comments", sqlsplit.Postgres, "/* tandem:no-transaction */ SELECT 1;", sqlsplit.Options{}},
		{"not in hash comments", sqlsplit.MySQL, "# tandem:no-transaction\nSELECT 1;", sqlsplit.Options{}},
		{"empty key ignored", sqlsplit.Postgres, "-- tandem:\nSELECT 1;", sqlsplit.Options{}},
		{"across delimiter lines", sqlsplit.MySQL, "-- tandem:a 1\nDELIMITER //\n-- tandem:b 2\nSELECT 1//",
			sqlsplit.Options{Annotations: map[string]string{"a": "1", "b": "2"}}},
		{"my dashes without space are not a comment", sqlsplit.MySQL, "--tandem:no-transaction\n", sqlsplit.Options{}},
		{"pg dashes without space are a comment", sqlsplit.Postgres, "--tandem:no-transaction\n",
			sqlsplit.Options{NoTransaction: true, Annotations: map[string]string{"no-transaction": ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got, err := sqlsplit.Split(tt.d, tt.src)
			if err != nil {
				t.Fatalf("Split(%s, %q): %v", tt.d, tt.src, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Split(%s, %q) options\n got %#v\nwant %#v", tt.d, tt.src, got, tt.want)
			}
		})
	}
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name string
		d    sqlsplit.Dialect
		src  string
		want sqlsplit.SyntaxError
	}{
		{"string", sqlsplit.Postgres, "SELECT 1;\nSELECT 'it''s\n;", sqlsplit.SyntaxError{Line: 2, Reason: "unterminated string literal '...'"}},
		{"pg escape string", sqlsplit.Postgres, `SELECT E'it\'s`, sqlsplit.SyntaxError{Line: 1, Reason: "unterminated escape string literal E'...'"}},
		{"pg identifier", sqlsplit.Postgres, "\n\nSELECT \"a\n", sqlsplit.SyntaxError{Line: 3, Reason: `unterminated quoted identifier "..."`}},
		{"pg dollar quote", sqlsplit.Postgres, "SELECT 1;\nDO $do$ BEGIN END $$;", sqlsplit.SyntaxError{Line: 2, Reason: "unterminated dollar-quoted string $do$...$do$"}},
		{"pg empty dollar quote", sqlsplit.Postgres, "SELECT $$", sqlsplit.SyntaxError{Line: 1, Reason: "unterminated dollar-quoted string $$...$$"}},
		{"pg nested comment", sqlsplit.Postgres, "/* a\n/* b */\nSELECT 1;", sqlsplit.SyntaxError{Line: 1, Reason: "unterminated block comment /*...*/"}},
		{"pg begin atomic", sqlsplit.Postgres, "SELECT 1;\nCREATE PROCEDURE p() BEGIN ATOMIC\n SELECT 1;", sqlsplit.SyntaxError{Line: 2, Reason: "unterminated function body: BEGIN ATOMIC without END"}},
		{"my double-quoted string", sqlsplit.MySQL, `SELECT "a\"`, sqlsplit.SyntaxError{Line: 1, Reason: `unterminated string literal "..."`}},
		{"my backslash at end", sqlsplit.MySQL, `SELECT 'a\`, sqlsplit.SyntaxError{Line: 1, Reason: "unterminated string literal '...'"}},
		{"my backtick", sqlsplit.MySQL, "SELECT `a``", sqlsplit.SyntaxError{Line: 1, Reason: "unterminated quoted identifier `...`"}},
		{"my comment", sqlsplit.MySQL, "SELECT 1 /* x", sqlsplit.SyntaxError{Line: 1, Reason: "unterminated block comment /*...*/"}},
		{"my empty delimiter", sqlsplit.MySQL, "SELECT 1;\nDELIMITER  \nSELECT 2;", sqlsplit.SyntaxError{Line: 2, Reason: "DELIMITER without a delimiter"}},
		{"my long delimiter", sqlsplit.MySQL, "DELIMITER 0123456789abcdefg", sqlsplit.SyntaxError{Line: 1, Reason: `DELIMITER "0123456789abcdefg" is longer than 16 bytes`}},
		{"my string across delimiter", sqlsplit.MySQL, "DELIMITER //\nSELECT 'a//\n", sqlsplit.SyntaxError{Line: 2, Reason: "unterminated string literal '...'"}},
		{"lite bracket", sqlsplit.SQLite, "SELECT [a;", sqlsplit.SyntaxError{Line: 1, Reason: "unterminated quoted identifier [...]"}},
		{"lite trigger", sqlsplit.SQLite, "CREATE TRIGGER t AFTER INSERT ON a\nBEGIN\n  SELECT 1;\n", sqlsplit.SyntaxError{Line: 2, Reason: "unterminated trigger body: BEGIN without END"}},
		{"lite trigger case", sqlsplit.SQLite, "CREATE TRIGGER t AFTER INSERT ON a BEGIN SELECT CASE WHEN 1 THEN 2; END;", sqlsplit.SyntaxError{Line: 1, Reason: "unterminated trigger body: BEGIN without END"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, opts, err := sqlsplit.Split(tt.d, tt.src)
			var se *sqlsplit.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Split(%s, %q) = %+v, %v, %v; want *SyntaxError", tt.d, tt.src, got, opts, err)
			}
			if *se != tt.want {
				t.Errorf("Split(%s, %q) error = %#v, want %#v", tt.d, tt.src, *se, tt.want)
			}
			if got != nil || !reflect.DeepEqual(opts, sqlsplit.Options{}) {
				t.Errorf("Split(%s, %q) returned %+v, %#v with its error", tt.d, tt.src, got, opts)
			}
		})
	}
}

func TestSyntaxErrorMessage(t *testing.T) {
	err := error(&sqlsplit.SyntaxError{Line: 7, Reason: "unterminated dollar-quoted string $fn$...$fn$"})
	if got, want := err.Error(), "line 7: unterminated dollar-quoted string $fn$...$fn$"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestSplitUnknownDialect(t *testing.T) {
	for _, d := range []sqlsplit.Dialect{"", "oracle", "Postgres"} {
		_, _, err := sqlsplit.Split(d, "SELECT 1")
		if !errors.Is(err, sqlsplit.ErrUnknownDialect) {
			t.Errorf("Split(%q) error = %v, want ErrUnknownDialect", d, err)
		}
	}
}
