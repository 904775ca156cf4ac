package sqlsplit

import (
	"errors"
	"fmt"
	"strings"
)

// Dialect names the SQL dialect whose lexical rules Split follows. The
// values match the names GORM's dialectors report.
type Dialect string

// The dialects Split understands.
const (
	Postgres Dialect = "postgres"
	MySQL    Dialect = "mysql" // MySQL and MariaDB, as read by the mysql client
	SQLite   Dialect = "sqlite"
)

// NoTransactionAnnotation is the annotation key (`-- tandem:no-transaction`)
// that asks for a migration file to run outside a transaction.
const NoTransactionAnnotation = "no-transaction"

// maxDelimiter is the longest delimiter a DELIMITER line may set; the mysql
// client has the same limit.
const maxDelimiter = 16

// ErrUnknownDialect is returned (wrapped) by Split for a dialect it does not
// know.
var ErrUnknownDialect = errors.New("sqlsplit: unknown dialect")

// Statement is one statement of a migration file.
type Statement struct {
	// SQL is the statement as written, from its first token to its last,
	// without the delimiter. Comments between its tokens are kept; comments
	// before its first token or after its last are not part of it.
	SQL string
	// Line is the 1-based line of the statement's first token.
	Line int
}

// Options are the settings a migration file declares about itself in
// `-- tandem:key [value]` line comments before its first statement.
type Options struct {
	// NoTransaction is true when the file carries `-- tandem:no-transaction`
	// (with any value or none).
	NoTransaction bool
	// Annotations maps every annotation key found before the first
	// statement to its value ("" when there is none); a later annotation
	// with the same key wins. It is nil when the file has no annotations.
	Annotations map[string]string
}

// SyntaxError reports a construct that the file opens and never closes: a
// string, a quoted identifier, a dollar quote, a block comment, a trigger
// or function body, or a malformed DELIMITER line.
type SyntaxError struct {
	// Line is the 1-based line where the construct begins.
	Line int
	// Reason says what is wrong, e.g. "unterminated dollar-quoted string $fn$...$fn$".
	Reason string
}

// Error implements error.
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
}

// Split cuts src, the text of a migration file written for dialect d, into
// its statements and reads the file's annotations. Statements end at ';'
// (or, for MySQL, at the delimiter the last DELIMITER line set) that is not
// inside a string, quoted identifier, dollar quote, comment, SQLite trigger
// body or PostgreSQL BEGIN ATOMIC body. Statements holding nothing but
// comments are dropped. Split runs in time linear in len(src).
//
// An unterminated construct yields a *SyntaxError; an unknown dialect an
// error wrapping ErrUnknownDialect.
func Split(d Dialect, src string) ([]Statement, Options, error) {
	switch d {
	case Postgres, MySQL, SQLite:
	default:
		return nil, Options{}, fmt.Errorf("%w %q (want %q, %q or %q)", ErrUnknownDialect, string(d), Postgres, MySQL, SQLite)
	}
	src = strings.TrimPrefix(src, "\uFEFF") // a byte order mark is not SQL
	s := &scanner{d: d, src: src, delim: ";", start: -1, line: 1}
	if err := s.run(); err != nil {
		return nil, Options{}, err
	}
	_, s.opts.NoTransaction = s.opts.Annotations[NoTransactionAnnotation]
	return s.stmts, s.opts, nil
}
