package sqlsplit

import (
	"fmt"
	"strings"
)

// scanner holds the state of one Split call.
type scanner struct {
	d     Dialect
	src   string
	delim string
	stmts []Statement
	opts  Options
	seen  bool // a statement has begun: annotations are no longer read

	// The statement being read.
	start, end int       // its first and past-its-last token offsets; start < 0 when none yet
	words      [4]string // its first words, to recognise CREATE TRIGGER and CREATE FUNCTION
	nwords     int
	compound   bool // it may hold a BEGIN ... END body
	depth      int  // BEGIN and CASE open in that body
	bodyStart  int  // offset of the BEGIN that opened the body

	linePos, line int // line is the line number of offset linePos
}

func (s *scanner) run() error {
	src := s.src
	lineStart := true
	for i := 0; i < len(src); {
		if lineStart && s.d == MySQL {
			j, ok, err := s.delimiterCommand(i)
			if err != nil {
				return err
			}
			if ok {
				i, lineStart = j, false
				continue
			}
		}
		c := src[i]
		lineStart = c == '\n'
		switch {
		case s.depth == 0 && strings.HasPrefix(src[i:], s.delim):
			s.flush()
			i += len(s.delim)
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case s.isLineComment(i):
			j := strings.IndexByte(src[i:], '\n')
			if j < 0 {
				j = len(src) - i
			}
			if !s.seen && c == '-' {
				s.annotation(src[i+2 : i+j])
			}
			i += j
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			j, err := s.blockComment(i)
			if err != nil {
				return err
			}
			i = j
		default:
			j, err := s.token(i)
			if err != nil {
				return err
			}
			if s.start < 0 {
				s.start, s.seen = i, true
			}
			s.end, i = j, j
		}
	}
	if s.depth > 0 {
		reason := "unterminated trigger body: BEGIN without END"
		if s.d == Postgres {
			reason = "unterminated function body: BEGIN ATOMIC without END"
		}
		return s.errorAt(s.bodyStart, reason)
	}
	s.flush()
	return nil
}

// flush ends the statement being read, keeping it if it has any token.
func (s *scanner) flush() {
	if s.start >= 0 {
		s.line += strings.Count(s.src[s.linePos:s.start], "\n")
		s.linePos = s.start
		s.stmts = append(s.stmts, Statement{SQL: s.src[s.start:s.end], Line: s.line})
	}
	s.start, s.nwords, s.compound, s.depth = -1, 0, false, 0
}

func (s *scanner) errorAt(pos int, reason string) error {
	return &SyntaxError{Line: 1 + strings.Count(s.src[:pos], "\n"), Reason: reason}
}

// isLineComment reports whether a line comment starts at i.
func (s *scanner) isLineComment(i int) bool {
	src := s.src
	if s.d == MySQL && src[i] == '#' {
		return true
	}
	if src[i] != '-' || i+1 >= len(src) || src[i+1] != '-' {
		return false
	}
	// MySQL wants whitespace or a control character after "--".
	return s.d != MySQL || i+2 >= len(src) || src[i+2] <= ' '
}

// annotation records a `-- tandem:key [value]` comment; text follows "--".
func (s *scanner) annotation(text string) {
	text, ok := strings.CutPrefix(strings.TrimSpace(text), "tandem:")
	if !ok {
		return
	}
	text = strings.TrimLeft(text, " \t")
	key, value := text, ""
	if k := strings.IndexAny(text, " \t"); k >= 0 {
		key, value = text[:k], strings.TrimSpace(text[k:])
	}
	if key == "" {
		return
	}
	if s.opts.Annotations == nil {
		s.opts.Annotations = make(map[string]string)
	}
	s.opts.Annotations[key] = value
}

// delimiterCommand reads a mysql client `DELIMITER x` line starting at i. It
// returns the offset of the line's end and whether there was one.
func (s *scanner) delimiterCommand(i int) (int, bool, error) {
	src := s.src
	j := i
	for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
		j++
	}
	const kw = "delimiter"
	k := j + len(kw)
	if k >= len(src) || !strings.EqualFold(src[j:k], kw) || (src[k] != ' ' && src[k] != '\t') {
		return 0, false, nil
	}
	eol := strings.IndexByte(src[k:], '\n')
	if eol < 0 {
		eol = len(src)
	} else {
		eol += k
	}
	arg := strings.Fields(src[k:eol])
	switch {
	case len(arg) == 0:
		return 0, false, s.errorAt(j, "DELIMITER without a delimiter")
	case len(arg[0]) > maxDelimiter:
		return 0, false, s.errorAt(j, fmt.Sprintf("DELIMITER %q is longer than %d bytes", arg[0], maxDelimiter))
	}
	s.flush()
	s.delim = arg[0]
	return eol, true, nil
}

// blockComment skips the comment opening at i and returns the offset after it.
func (s *scanner) blockComment(i int) (int, error) {
	src := s.src
	if s.d != Postgres {
		if k := strings.Index(src[i+2:], "*/"); k >= 0 {
			return i + 2 + k + 2, nil
		}
		return 0, s.errorAt(i, "unterminated block comment /*...*/")
	}
	depth := 0
	for j := i; j+1 < len(src); {
		switch {
		case src[j] == '/' && src[j+1] == '*':
			depth++
			j += 2
		case src[j] == '*' && src[j+1] == '/':
			depth--
			j += 2
			if depth == 0 {
				return j, nil
			}
		default:
			j++
		}
	}
	return 0, s.errorAt(i, "unterminated block comment /*...*/")
}

// token reads the token starting at i, which is neither whitespace nor a
// comment, and returns the offset after it. Quoted tokens are read whole,
// words are read whole outside MySQL, anything else is one byte.
func (s *scanner) token(i int) (int, error) {
	src, c := s.src, s.src[i]
	afterIdent := i > 0 && identChar(src[i-1])
	switch {
	case c == '\'':
		if s.d == MySQL {
			return s.quoted(i, '\'', true, "string literal '...'")
		}
		if s.d == Postgres && afterIdent && (src[i-1] == 'E' || src[i-1] == 'e') && (i < 2 || !identChar(src[i-2])) {
			return s.quoted(i, '\'', true, "escape string literal E'...'")
		}
		return s.quoted(i, '\'', false, "string literal '...'")
	case c == '"':
		if s.d == MySQL {
			return s.quoted(i, '"', true, `string literal "..."`)
		}
		return s.quoted(i, '"', false, `quoted identifier "..."`)
	case c == '`' && s.d != Postgres:
		return s.quoted(i, '`', false, "quoted identifier `...`")
	case c == '[' && s.d == SQLite:
		if k := strings.IndexByte(src[i:], ']'); k >= 0 {
			return i + k + 1, nil
		}
		return 0, s.errorAt(i, "unterminated quoted identifier [...]")
	case c == '$' && s.d == Postgres && !afterIdent:
		return s.dollarQuote(i)
	case s.d != MySQL && identStart(c) && !afterIdent:
		j := i + 1
		for j < len(src) && identChar(src[j]) {
			j++
		}
		s.word(i, j)
		return j, nil
	}
	return i + 1, nil
}

// quoted skips a token quoted by q, in which q is escaped by doubling it and,
// when backslash is set, any byte by a backslash.
func (s *scanner) quoted(i int, q byte, backslash bool, what string) (int, error) {
	src := s.src
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			if backslash {
				j++
			}
		case q:
			if j+1 < len(src) && src[j+1] == q {
				j++
				continue
			}
			return j + 1, nil
		}
	}
	return 0, s.errorAt(i, "unterminated "+what)
}

// dollarQuote skips a PostgreSQL dollar-quoted string opening at i; a '$'
// that opens none (a $1 parameter) is a token of its own.
func (s *scanner) dollarQuote(i int) (int, error) {
	src := s.src
	j := i + 1
	if j < len(src) && identStart(src[j]) {
		for j < len(src) && identChar(src[j]) && src[j] != '$' {
			j++
		}
	}
	if j >= len(src) || src[j] != '$' {
		return i + 1, nil
	}
	tag := src[i : j+1]
	if k := strings.Index(src[j+1:], tag); k >= 0 {
		return j + 1 + k + len(tag), nil
	}
	return 0, s.errorAt(i, "unterminated dollar-quoted string "+tag+"..."+tag)
}

// word notes the word src[i:j] of the current statement, following BEGIN,
// CASE and END in the body of a SQLite trigger or of a PostgreSQL function
// written with BEGIN ATOMIC.
func (s *scanner) word(i, j int) {
	w := s.src[i:j]
	if s.nwords < len(s.words) {
		s.words[s.nwords] = w
		s.nwords++
		s.compound = s.isCompound()
	}
	if !s.compound {
		return
	}
	switch {
	case strings.EqualFold(w, "BEGIN"):
		if s.depth == 0 {
			if s.d == Postgres && !s.atomicAt(j) {
				return
			}
			s.bodyStart = i
		}
		s.depth++
	case strings.EqualFold(w, "CASE"):
		if s.depth > 0 {
			s.depth++
		}
	case strings.EqualFold(w, "END"):
		if s.depth > 0 {
			s.depth--
		}
	}
}

// isCompound reports whether the current statement's first words are
// CREATE [TEMP|TEMPORARY] TRIGGER (SQLite) or CREATE [OR REPLACE]
// FUNCTION|PROCEDURE (PostgreSQL).
func (s *scanner) isCompound() bool {
	w := s.words[:s.nwords]
	if len(w) < 2 || !strings.EqualFold(w[0], "CREATE") {
		return false
	}
	is := func(k int, names ...string) bool {
		if k >= len(w) {
			return false
		}
		for _, n := range names {
			if strings.EqualFold(w[k], n) {
				return true
			}
		}
		return false
	}
	if s.d == SQLite {
		return is(1, "TRIGGER") || (is(1, "TEMP", "TEMPORARY") && is(2, "TRIGGER"))
	}
	return is(1, "FUNCTION", "PROCEDURE") || (is(1, "OR") && is(2, "REPLACE") && is(3, "FUNCTION", "PROCEDURE"))
}

// atomicAt reports whether the word ATOMIC follows offset j after whitespace.
func (s *scanner) atomicAt(j int) bool {
	rest := strings.TrimLeft(s.src[j:], " \t\r\n\f\v")
	const kw = "ATOMIC"
	return len(rest) >= len(kw) && strings.EqualFold(rest[:len(kw)], kw) &&
		(len(rest) == len(kw) || !identChar(rest[len(kw)]))
}

func identStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func identChar(c byte) bool {
	return identStart(c) || c >= '0' && c <= '9' || c == '$'
}
