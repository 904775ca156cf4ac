package dialect

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"
)

// mysqlNativeHint shows the go-sql-driver DSN form.
const mysqlNativeHint = `write user:pass@tcp(host:3306)/dbname?parseTime=true (the database name may be empty: user:pass@tcp(host:3306)/), or mysql://user:pass@host:3306/dbname`

// parseMySQLURL converts mysql://user:pass@host:port/db?params to the
// go-sql-driver form user:pass@tcp(host:port)/db?params.
func parseMySQLURL(s string) (Target, error) {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.Fragment != "" || u.RawFragment != "" {
		return Target{}, dsnError(s, "not a valid MySQL URL", escapeHint)
	}
	var b strings.Builder
	pass, hasPass := u.User.Password()
	if user := u.User.Username(); user != "" || hasPass {
		if strings.Contains(user, ":") {
			return Target{}, dsnError(s, "the user name contains ':', which the MySQL driver cannot take", "use a user name without ':'")
		}
		b.WriteString(user)
		if hasPass {
			b.WriteString(":" + pass)
		}
		b.WriteString("@")
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "3306"
	}
	b.WriteString("tcp(" + net.JoinHostPort(host, port) + ")/")
	db := strings.TrimPrefix(u.Path, "/")
	if strings.Contains(db, "/") {
		return Target{}, dsnError(s, "the database name contains '/'", "the URL path is the database name: mysql://user:pass@host:3306/dbname")
	}
	b.WriteString(url.PathEscape(db))
	query, err := withMySQLDefaults(u.RawQuery)
	if err != nil {
		return Target{}, dsnError(s, err.Error(), mysqlParseTimeHint)
	}
	native := b.String() + "?" + query
	if _, err := mysql.ParseDSN(native); err != nil {
		return Target{}, dsnError(s, "not a valid MySQL URL: "+scrub(err.Error(), pass, rawURLPassword(s)), mysqlNativeHint)
	}
	return Target{Dialect: MySQL, DSN: native}, nil
}

// parseMySQLNative checks a go-sql-driver DSN and adds parseTime=true and
// multiStatements=false unless it sets them.
func parseMySQLNative(s string) (Target, error) {
	slash := strings.LastIndexByte(s, '/')
	if slash < 0 {
		return Target{}, dsnError(s, "missing the '/' before the database name", mysqlNativeHint)
	}
	head, db, rawQuery := s[:slash], s[slash+1:], ""
	if q := strings.IndexByte(db, '?'); q >= 0 {
		db, rawQuery = db[:q], db[q+1:]
	}
	query, err := withMySQLDefaults(rawQuery)
	if err != nil {
		return Target{}, dsnError(s, err.Error(), mysqlParseTimeHint)
	}
	native := head + "/" + db + "?" + query
	if _, err := mysql.ParseDSN(native); err != nil {
		return Target{}, dsnError(s, "not a valid MySQL DSN: "+scrub(err.Error(), rawMySQLPassword(s)), mysqlNativeHint)
	}
	return Target{Dialect: MySQL, DSN: native}, nil
}

// mysqlParseTimeHint explains why parseTime=true is required.
const mysqlParseTimeHint = "remove parseTime=false or set parseTime=true: tandem scans DATETIME and TIMESTAMP columns into time.Time"

// withMySQLDefaults appends parseTime=true and multiStatements=false to a raw
// query unless it sets them, keeping the given parameters in their order. It
// refuses parseTime=false.
func withMySQLDefaults(rawQuery string) (string, error) {
	var params []string
	hasParseTime, hasMulti := false, false
	for _, p := range strings.Split(rawQuery, "&") {
		if p == "" {
			continue
		}
		params = append(params, p)
		key, val, _ := strings.Cut(p, "=")
		switch key {
		case "parseTime":
			on, err := strconv.ParseBool(val)
			if err != nil || !on {
				return "", errors.New("parseTime must be true")
			}
			hasParseTime = true
		case "multiStatements":
			hasMulti = true
		}
	}
	if !hasParseTime {
		params = append(params, "parseTime=true")
	}
	if !hasMulti {
		params = append(params, "multiStatements=false")
	}
	return strings.Join(params, "&"), nil
}

// mysqlDatabase returns the database name of a go-sql-driver DSN, or "".
func mysqlDatabase(dsn string) string {
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		return ""
	}
	db, _, _ := strings.Cut(dsn[slash+1:], "?")
	name, err := url.PathUnescape(db)
	if err != nil {
		return ""
	}
	return name
}

// mysqlWithDatabase replaces the database name of a go-sql-driver DSN.
func mysqlWithDatabase(dsn, name string) (string, error) {
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		return "", errors.New("missing the '/' before the database name")
	}
	rest := dsn[slash+1:]
	query := ""
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		query = rest[q:]
	}
	return dsn[:slash] + "/" + url.PathEscape(name) + query, nil
}

// mysqlConfig parses the DSN of a MySQL target and checks what Open needs.
func mysqlConfig(t Target) (*mysql.Config, error) {
	cfg, err := mysql.ParseDSN(t.DSN)
	if err != nil {
		return nil, &DSNError{Input: t.String(), Reason: "not a valid MySQL DSN: " + scrub(err.Error(), rawMySQLPassword(t.DSN)), Hint: mysqlNativeHint}
	}
	if !cfg.ParseTime {
		return nil, &DSNError{Input: t.String(), Reason: "parseTime=true is required", Hint: mysqlParseTimeHint}
	}
	return cfg, nil
}

// mysqlSecrets returns the password of a MySQL DSN, as written.
func mysqlSecrets(dsn string) []string {
	return []string{rawMySQLPassword(dsn)}
}
