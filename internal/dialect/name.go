package dialect

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// Name identifies one of the SQL dialects tandem supports.
type Name string

// The supported dialects. The values match what GORM's dialectors report from
// Dialector.Name().
const (
	// Postgres is PostgreSQL, driven by gorm.io/driver/postgres (pgx).
	Postgres Name = "postgres"
	// MySQL is MySQL or MariaDB, driven by gorm.io/driver/mysql.
	MySQL Name = "mysql"
	// SQLite is SQLite, driven by the pure-Go github.com/glebarez/sqlite.
	SQLite Name = "sqlite"
)

// ErrUnknownDialect is wrapped by the error ParseName returns for a name it
// does not know.
var ErrUnknownDialect = errors.New("unknown dialect")

// Names returns the supported dialects in a fixed order: postgres, mysql, sqlite.
func Names() []Name {
	return []Name{Postgres, MySQL, SQLite}
}

// aliases maps every accepted spelling to its dialect.
var aliases = map[string]Name{
	"postgres":   Postgres,
	"postgresql": Postgres,
	"pg":         Postgres,
	"mysql":      MySQL,
	"mariadb":    MySQL,
	"sqlite":     SQLite,
	"sqlite3":    SQLite,
}

// ParseName returns the dialect named by s. It accepts, case-insensitively,
// postgres, postgresql and pg; mysql and mariadb; sqlite and sqlite3. The
// error for any other input wraps ErrUnknownDialect and lists the valid names.
func ParseName(s string) (Name, error) {
	if n, ok := aliases[strings.ToLower(strings.TrimSpace(s))]; ok {
		return n, nil
	}
	return "", fmt.Errorf("%w %q: valid names are postgres (or postgresql, pg), mysql (or mariadb), sqlite (or sqlite3)", ErrUnknownDialect, s)
}

// Valid reports whether n is one of the supported dialects.
func (n Name) Valid() bool {
	return n == Postgres || n == MySQL || n == SQLite
}

// Of returns the dialect of an open *gorm.DB, read from its dialector. A
// dialector tandem does not know is returned under the name it reports; a nil
// db or one without a dialector gives "".
func Of(db *gorm.DB) Name {
	if db == nil || db.Dialector == nil {
		return ""
	}
	name := db.Dialector.Name()
	if n, ok := aliases[strings.ToLower(name)]; ok {
		return n
	}
	return Name(name)
}

// QuoteIdent quotes one SQL identifier (a table, column, index or database
// name) for dialect n: backticks for MySQL, double quotes for PostgreSQL,
// SQLite and anything else. A quote character inside ident is doubled, so the
// result is always a single identifier. Dotted names are not split: quote each
// part on its own.
func QuoteIdent(n Name, ident string) string {
	q := `"`
	if n == MySQL {
		q = "`"
	}
	return q + strings.ReplaceAll(ident, q, q+q) + q
}

// Tuple returns a parenthesized list of n placeholders for GORM: "( ?, ?)".
// The space matters: GORM spreads a slice bound right after "(" into a
// list (for IN), so a []byte value there would become one value per byte.
func Tuple(n int) string {
	return "( " + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

// NullSafeEq returns the dialect's comparison operator under which NULL
// equals NULL: IS NOT DISTINCT FROM (PostgreSQL), <=> (MySQL), IS (SQLite).
func NullSafeEq(n Name) string {
	switch n {
	case Postgres:
		return "IS NOT DISTINCT FROM"
	case MySQL:
		return "<=>"
	default:
		return "IS"
	}
}

// Placeholders rewrites the "?" placeholders of sql into the dialect's own,
// for a statement sent to database/sql directly rather than through GORM:
// $1, $2, ... on PostgreSQL; MySQL and SQLite take "?" as it is. A "?"
// inside a quoted identifier, a string literal or a comment ("-- ..." to
// the end of the line, "/* ... */", nested as PostgreSQL nests them) is
// left alone.
func Placeholders(n Name, sql string) string {
	if n != Postgres || !strings.Contains(sql, "?") {
		return sql
	}
	var b strings.Builder
	b.Grow(len(sql) + len(sql)/4)
	var quote byte // the quote character of the identifier or literal we are in
	line := false  // in a "--" comment
	depth := 0     // how deep in "/* */" comments
	k := 0
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		next := byte(0)
		if i+1 < len(sql) {
			next = sql[i+1]
		}
		switch {
		case line:
			line = c != '\n'
		case depth > 0:
			switch {
			case c == '*' && next == '/':
				depth--
				b.WriteString("*/")
				i++
				continue
			case c == '/' && next == '*':
				depth++
				b.WriteString("/*")
				i++
				continue
			}
		case quote != 0:
			if c == quote {
				quote = 0 // a doubled quote closes and reopens: same result
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '-' && next == '-':
			line = true
		case c == '/' && next == '*':
			depth = 1
			b.WriteString("/*")
			i++
			continue
		case c == '?':
			k++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(k))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
