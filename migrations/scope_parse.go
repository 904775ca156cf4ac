package migrations

import (
	"strings"

	"github.com/tandemdb/tandem/internal/dialect"
)

// The statement reader of the contract scope check: a small lexer and
// parser that find the tables and columns a migration drops or alters.

// scopeToken is one lexical token of a statement.
type scopeToken struct {
	word   string // an unquoted word, or a quoted identifier's name
	quoted bool   // a quoted identifier
	punct  byte   // ',', '(', ')', '.', ';', '=', ... (0 for a word)
}

// is reports whether the token is the unquoted keyword kw (upper case).
func (t scopeToken) is(kw string) bool {
	return !t.quoted && t.punct == 0 && strings.EqualFold(t.word, kw)
}

// name reports whether the token can be an identifier.
func (t scopeToken) name() bool { return t.punct == 0 && t.word != "" }

// scopeLex cuts a statement into words, quoted identifiers and punctuation,
// skipping comments, strings and dollar-quoted bodies. Strings become a
// punctuation token (a quote) so that they never read as names.
func scopeLex(d dialect.Name, sql string) []scopeToken {
	var out []scopeToken
	n := len(sql)
	for i := 0; i < n; {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < n && sql[i+1] == '-', c == '#' && d == dialect.MySQL:
			for i < n && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < n && sql[i+1] == '*':
			depth := 0
			for i < n {
				if i+1 < n && sql[i] == '/' && sql[i+1] == '*' {
					depth++
					i += 2
					if d != dialect.Postgres {
						depth = 1 // only PostgreSQL nests block comments
					}
					continue
				}
				if i+1 < n && sql[i] == '*' && sql[i+1] == '/' {
					depth--
					i += 2
					if depth == 0 {
						break
					}
					continue
				}
				i++
			}
		case c == '\'':
			i = scopeSkipQuoted(sql, i, '\'', d == dialect.MySQL)
			out = append(out, scopeToken{punct: '\''})
		case c == '"' || c == '`':
			j := scopeSkipQuoted(sql, i, c, false)
			body := sql[i+1 : max(i+1, j-1)]
			out = append(out, scopeToken{word: strings.ReplaceAll(body, string([]byte{c, c}), string(c)), quoted: true})
			i = j
		case c == '[' && d == dialect.SQLite:
			j := strings.IndexByte(sql[i+1:], ']')
			if j < 0 {
				j = n - i - 1
			}
			out = append(out, scopeToken{word: sql[i+1 : i+1+j], quoted: true})
			i += j + 2
		case c == '$' && d == dialect.Postgres && scopeDollarTag(sql[i:]) != "":
			tag := scopeDollarTag(sql[i:])
			end := strings.Index(sql[i+len(tag):], tag)
			if end < 0 {
				i = n
			} else {
				i += len(tag) + end + len(tag)
			}
			out = append(out, scopeToken{punct: '\''})
		case scopeWordByte(c):
			j := i
			for j < n && (scopeWordByte(sql[j]) || sql[j] == '$') {
				j++
			}
			out = append(out, scopeToken{word: sql[i:j]})
			i = j
		default:
			out = append(out, scopeToken{punct: c})
			i++
		}
	}
	return out
}

// scopeSkipQuoted returns the index just after the quoted text that opens
// at i; a doubled quote (or, with backslash, an escaped one) stays inside.
func scopeSkipQuoted(s string, i int, q byte, backslash bool) int {
	for j := i + 1; j < len(s); j++ {
		switch {
		case backslash && s[j] == '\\':
			j++
		case s[j] == q && j+1 < len(s) && s[j+1] == q:
			j++
		case s[j] == q:
			return j + 1
		}
	}
	return len(s)
}

// scopeDollarTag returns the $tag$ that opens s, or "".
func scopeDollarTag(s string) string {
	for j := 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '$':
			return s[:j+1]
		case !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || j > 1 && c >= '0' && c <= '9'):
			return ""
		}
	}
	return ""
}

func scopeWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// scopeParse returns what one statement does to tables and columns, for the
// statement shapes CheckScope recognises; nil for any other statement.
func scopeParse(d dialect.Name, sql string) []scopeTouch {
	toks := scopeLex(d, sql)
	p := &scopeParser{toks: toks}
	switch {
	case p.accept("ALTER"):
		return p.alterTable()
	case p.accept("DROP"):
		return p.dropTable()
	}
	return nil
}

type scopeParser struct {
	toks []scopeToken
	pos  int
}

func (p *scopeParser) peek(k int) scopeToken {
	if p.pos+k < len(p.toks) {
		return p.toks[p.pos+k]
	}
	return scopeToken{punct: ';'}
}

func (p *scopeParser) accept(kw string) bool {
	if p.peek(0).is(kw) {
		p.pos++
		return true
	}
	return false
}

// qualifiedName reads name[.name...] and returns the last part.
func (p *scopeParser) qualifiedName() (string, bool) {
	t := p.peek(0)
	if !t.name() {
		return "", false
	}
	p.pos++
	for p.peek(0).punct == '.' && p.peek(1).name() {
		t = p.peek(1)
		p.pos += 2
	}
	return t.word, true
}

// ifExists skips IF EXISTS.
func (p *scopeParser) ifExists() {
	if p.peek(0).is("IF") && p.peek(1).is("EXISTS") {
		p.pos += 2
	}
}

// alterTable parses what follows ALTER.
func (p *scopeParser) alterTable() []scopeTouch {
	for p.accept("IGNORE") || p.accept("ONLINE") || p.accept("OFFLINE") {
	}
	if !p.accept("TABLE") {
		return nil
	}
	p.ifExists()
	p.accept("ONLY")
	table, ok := p.qualifiedName()
	if !ok {
		return nil
	}
	if p.peek(0).punct == '*' {
		p.pos++
	}
	var out []scopeTouch
	for _, action := range scopeSplitActions(p.toks[p.pos:]) {
		if t, ok := scopeColumnAction(action); ok {
			t.Table = table
			out = append(out, t)
		}
	}
	return out
}

// scopeSplitActions cuts an ALTER TABLE's actions at the commas outside
// parentheses.
func scopeSplitActions(toks []scopeToken) [][]scopeToken {
	var out [][]scopeToken
	depth, start := 0, 0
	for i, t := range toks {
		switch t.punct {
		case '(':
			depth++
		case ')':
			depth--
		case ',', ';':
			if depth == 0 {
				out = append(out, toks[start:i])
				start = i + 1
			}
		}
	}
	return append(out, toks[start:])
}

// Words that, right after DROP/ALTER/RENAME/ADD without COLUMN, name
// something other than a column.
var scopeNotColumn = map[string]bool{
	"CONSTRAINT": true, "INDEX": true, "KEY": true, "PRIMARY": true, "FOREIGN": true, "CHECK": true,
	"UNIQUE": true, "FULLTEXT": true, "SPATIAL": true, "PARTITION": true, "SYSTEM": true, "PERIOD": true,
	"TO": true, "AS": true, "COLUMNS": true, "IF": true,
}

// scopeColumnAction reads one ALTER TABLE action.
func scopeColumnAction(a []scopeToken) (scopeTouch, bool) {
	p := &scopeParser{toks: a}
	var act scopeAction
	switch {
	case p.accept("DROP"):
		act = scopeDrop
	case p.accept("ALTER"), p.accept("MODIFY"), p.accept("CHANGE"):
		act = scopeAlter
	case p.accept("RENAME"):
		act = scopeRename
	case p.accept("ADD"):
		act = scopeAdd
	default:
		return scopeTouch{}, false
	}
	explicit := p.accept("COLUMN")
	if act == scopeDrop || act == scopeAdd || explicit {
		switch {
		case p.peek(0).is("IF") && p.peek(1).is("EXISTS"):
			p.pos += 2
		case p.peek(0).is("IF") && p.peek(1).is("NOT") && p.peek(2).is("EXISTS"):
			p.pos += 3
		}
	}
	t := p.peek(0)
	if !t.name() || !explicit && !t.quoted && scopeNotColumn[strings.ToUpper(t.word)] {
		return scopeTouch{}, false
	}
	if act == scopeRename && !explicit && !p.peek(1).is("TO") {
		return scopeTouch{}, false
	}
	return scopeTouch{Action: act, Column: t.word}, true
}

// dropTable parses what follows DROP.
func (p *scopeParser) dropTable() []scopeTouch {
	if p.accept("TEMPORARY") || !p.accept("TABLE") {
		return nil
	}
	p.ifExists()
	var out []scopeTouch
	for {
		name, ok := p.qualifiedName()
		if !ok {
			return out
		}
		out = append(out, scopeTouch{Action: scopeDropTable, Table: name})
		if p.peek(0).punct != ',' {
			return out
		}
		p.pos++
	}
}
