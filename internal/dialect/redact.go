package dialect

import (
	"regexp"
	"strings"
)

// redacted replaces every password Redact finds.
const redacted = "xxxxx"

// Redact returns dsn with every password replaced by "xxxxx". It understands
// all forms ParseDSN accepts (URL userinfo, password= and sslpassword= in URL
// queries and libpq key=value strings, the user:pass@ of a MySQL DSN) and
// errs on the side of hiding too much when the input is malformed. A string
// without a password is returned unchanged. Use it on every DSN that reaches
// a log line or an error message.
func Redact(dsn string) string {
	if strings.TrimSpace(dsn) == "" {
		return dsn
	}
	if i := schemeEnd(dsn); i >= 0 {
		return redactURL(dsn, i)
	}
	if kvStart.MatchString(dsn) {
		return redactKV(dsn)
	}
	if isSQLitePrefix(dsn) {
		return dsn
	}
	if !looksLikeMySQLNative(dsn) && hasSQLiteSuffix(dsn) {
		return dsn
	}
	return redactUserinfo(dsn)
}

// schemeRE matches the scheme of a URL-shaped DSN.
var schemeRE = regexp.MustCompile(`^\s*[A-Za-z][A-Za-z0-9+.-]*://`)

// schemeEnd returns the index just past "://" of a URL-shaped dsn, or -1.
func schemeEnd(dsn string) int {
	loc := schemeRE.FindStringIndex(dsn)
	if loc == nil {
		return -1
	}
	return loc[1]
}

// scheme returns the lower-cased scheme of a URL-shaped dsn, or "".
func scheme(dsn string) string {
	i := schemeEnd(dsn)
	if i < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(dsn[:i-len("://")]))
}

// queryPasswordRE matches a password parameter in a URL query.
var queryPasswordRE = regexp.MustCompile(`(?i)([?&](?:ssl)?password=)[^&#]*`)

// redactURL hides the password of the userinfo and of any password query
// parameter. rest starts at i, just past "://".
func redactURL(dsn string, i int) string {
	head, rest := dsn[:i], dsn[i:]
	at := userinfoEnd(rest)
	if at >= 0 {
		if c := strings.IndexByte(rest[:at], ':'); c >= 0 && c+1 < at {
			rest = rest[:c+1] + redacted + rest[at:]
			at = c + 1 + len(redacted)
		}
	}
	tail := rest[at+1:]
	tail = queryPasswordRE.ReplaceAllString(tail, "${1}"+redacted)
	return head + rest[:at+1] + tail
}

// userinfoEnd returns the index of the '@' that ends the userinfo of a URL
// whose scheme and "://" are already cut off, or -1. The userinfo ends at the
// last '@' before the query. If the query separator comes first, the password
// itself may hold a raw '?', so the last '@' anywhere is taken: hiding too
// much is the safe mistake.
func userinfoEnd(rest string) int {
	at := -1
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		at = strings.LastIndexByte(rest[:q], '@')
	}
	if at < 0 {
		at = strings.LastIndexByte(rest, '@')
	}
	return at
}

// rawURLPassword returns the password of a URL-shaped DSN as written, still
// percent-encoded, or "".
func rawURLPassword(dsn string) string {
	i := schemeEnd(dsn)
	if i < 0 {
		return ""
	}
	rest := dsn[i:]
	at := userinfoEnd(rest)
	if at < 0 {
		return ""
	}
	if c := strings.IndexByte(rest[:at], ':'); c >= 0 {
		return rest[c+1 : at]
	}
	return ""
}

// rawMySQLPassword returns the password of a go-sql-driver DSN, or "".
func rawMySQLPassword(dsn string) string {
	at := mysqlAddrSep(dsn)
	if at < 0 {
		return ""
	}
	if c := strings.IndexByte(dsn[:at], ':'); c >= 0 {
		return dsn[c+1 : at]
	}
	return ""
}

// redactKV hides the values of password and sslpassword in a libpq
// key=value string.
func redactKV(dsn string) string {
	pairs := scanKV(dsn)
	var b strings.Builder
	last := 0
	for _, p := range pairs {
		if !isPasswordKey(p.key) || p.end == p.start {
			continue
		}
		b.WriteString(dsn[last:p.start])
		b.WriteString(redacted)
		last = p.end
	}
	b.WriteString(dsn[last:])
	return b.String()
}

// isPasswordKey reports whether a connection parameter holds a secret.
func isPasswordKey(key string) bool {
	k := strings.ToLower(key)
	return k == "password" || k == "sslpassword"
}

// redactUserinfo hides the password of a "user:pass@address/..." string such
// as a go-sql-driver MySQL DSN.
func redactUserinfo(dsn string) string {
	at := mysqlAddrSep(dsn)
	if at < 0 {
		return dsn
	}
	c := strings.IndexByte(dsn[:at], ':')
	if c < 0 || c+1 >= at {
		return dsn
	}
	return dsn[:c+1] + redacted + dsn[at:]
}

// mysqlAddrSep returns the index of the '@' that ends the user:pass part of
// a go-sql-driver DSN, or -1. It prefers an '@' followed by a protocol and
// falls back to the rule the driver applies: the last '@' before the last '/'.
func mysqlAddrSep(dsn string) int {
	best := -1
	for _, marker := range []string{"@tcp(", "@tcp6(", "@unix(", "@("} {
		if i := strings.LastIndex(dsn, marker); i > best {
			best = i
		}
	}
	if best >= 0 {
		return best
	}
	if slash := strings.LastIndexByte(dsn, '/'); slash >= 0 {
		if i := strings.LastIndexByte(dsn[:slash], '@'); i >= 0 {
			return i
		}
	}
	return strings.LastIndexByte(dsn, '@')
}

// looksLikeMySQLNative reports whether dsn has the shape of a go-sql-driver
// DSN: user:pass@tcp(host:port)/db and its variants.
func looksLikeMySQLNative(dsn string) bool {
	for _, marker := range []string{"tcp(", "tcp6(", "unix(", "@/", "@("} {
		if strings.Contains(dsn, marker) {
			return true
		}
	}
	return false
}

// scrub removes every non-empty secret from msg. It is the last line of
// defence for driver error texts, which are not ours to format.
func scrub(msg string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	return msg
}
