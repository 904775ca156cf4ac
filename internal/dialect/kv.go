package dialect

import (
	"errors"
	"regexp"
	"strings"
)

// kvStart matches the beginning of a libpq key=value connection string.
var kvStart = regexp.MustCompile(`^\s*[A-Za-z_][A-Za-z0-9_]*\s*=`)

// kvPair is one key=value of a libpq connection string. start and end delimit
// the raw value (quotes included) in the input; value is unescaped.
type kvPair struct {
	key        string
	value      string
	start, end int
}

// scanKV splits a libpq key=value string into pairs. It never fails: on
// malformed input it stops, and an unterminated quoted value runs to the end
// of the input, so that Redact can hide it. parseKV reports the errors.
func scanKV(s string) []kvPair {
	pairs, _ := parseKV(s)
	return pairs
}

// parseKV splits a libpq key=value string into pairs. Its errors quote no part
// of the input, so they are safe to show; the pairs read before an error are
// returned with it.
func parseKV(s string) ([]kvPair, error) {
	var pairs []kvPair
	i := 0
	skipSpace := func() {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
	}
	for {
		skipSpace()
		if i >= len(s) {
			return pairs, nil
		}
		k := i
		for i < len(s) && s[i] != '=' && !isSpace(s[i]) {
			i++
		}
		key := s[k:i]
		skipSpace()
		if i >= len(s) || s[i] != '=' {
			return pairs, errors.New("expected key=value pairs separated by spaces, found a key without '='")
		}
		i++
		skipSpace()
		start := i
		var v strings.Builder
		if i < len(s) && s[i] == '\'' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					v.WriteByte(s[i+1])
					i += 2
					continue
				}
				i++
				if c == '\'' {
					closed = true
					break
				}
				v.WriteByte(c)
			}
			if !closed {
				pairs = append(pairs, kvPair{key: key, value: v.String(), start: start, end: len(s)})
				return pairs, errors.New("a quoted value is missing its closing quote")
			}
		} else {
			for i < len(s) && !isSpace(s[i]) {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				v.WriteByte(s[i])
				i++
			}
		}
		pairs = append(pairs, kvPair{key: key, value: v.String(), start: start, end: i})
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// kvQuote renders v as a libpq value, quoting it when needed.
func kvQuote(v string) string {
	plain := v != ""
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			plain = false
			break
		}
	}
	if plain {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`)
	return "'" + r.Replace(v) + "'"
}

// kvGet returns the value of key in pairs, the last one winning as in libpq.
func kvGet(pairs []kvPair, key string) (string, bool) {
	val, ok := "", false
	for _, p := range pairs {
		if p.key == key {
			val, ok = p.value, true
		}
	}
	return val, ok
}
