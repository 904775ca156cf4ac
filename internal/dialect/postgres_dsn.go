package dialect

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// parsePostgresURL checks a postgres:// or postgresql:// URL with the parser
// pgx itself uses and keeps it as the driver DSN, its scheme in lower case as
// pgx wants it.
func parsePostgresURL(s string) (Target, error) {
	i := schemeEnd(s)
	s = strings.ToLower(s[:i]) + s[i:]
	u, uerr := url.Parse(s)
	if _, err := pgconn.ParseConfig(s); err != nil {
		if uerr != nil {
			// Neither parser could find the password, so no detail is safe.
			return Target{}, dsnError(s, "not a valid PostgreSQL URL", escapeHint)
		}
		return Target{}, dsnError(s, "not a valid PostgreSQL URL: "+pgReason(err, postgresURLSecrets(s, u)...),
			"see the libpq connection URI format: postgres://user:pass@host:5432/db?sslmode=disable")
	}
	return Target{Dialect: Postgres, DSN: s}, nil
}

// parsePostgresKV checks a libpq key=value string and keeps it as the driver
// DSN.
func parsePostgresKV(s string) (Target, error) {
	const hint = `write key=value pairs separated by spaces, e.g. "host=localhost port=5432 user=app dbname=app"; ` +
		`quote a value holding spaces as key='a value' and escape ' and \ inside it with \`
	pairs, err := parseKV(s)
	if err != nil {
		return Target{}, dsnError(s, err.Error(), hint)
	}
	if _, err := pgconn.ParseConfig(s); err != nil {
		return Target{}, dsnError(s, "not a valid PostgreSQL connection string: "+pgReason(err, kvSecrets(s, pairs)...), hint)
	}
	return Target{Dialect: Postgres, DSN: s}, nil
}

// pgReason turns a pgconn parse error into a reason without the connection
// string pgconn quotes and without any secret.
func pgReason(err error, secrets ...string) string {
	msg := err.Error()
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		if i := strings.Index(msg, "`: "); i >= 0 {
			msg = msg[i+len("`: "):]
		}
	}
	return scrub(msg, secrets...)
}

// postgresURLSecrets returns every spelling of the passwords in a PostgreSQL
// URL: userinfo and query parameter, decoded and as written.
func postgresURLSecrets(s string, u *url.URL) []string {
	secrets := []string{rawURLPassword(s)}
	if u != nil {
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, p)
		}
		for _, k := range []string{"password", "sslpassword"} {
			for _, v := range u.Query()[k] {
				secrets = append(secrets, v, url.QueryEscape(v))
			}
		}
	}
	return secrets
}

// kvSecrets returns the password values of a key=value string, unescaped and
// as written.
func kvSecrets(s string, pairs []kvPair) []string {
	var secrets []string
	for _, p := range pairs {
		if isPasswordKey(p.key) {
			secrets = append(secrets, p.value, s[p.start:p.end])
		}
	}
	return secrets
}

// postgresSecrets returns the passwords of any PostgreSQL DSN.
func postgresSecrets(dsn string) []string {
	if schemeEnd(dsn) >= 0 {
		u, _ := url.Parse(dsn)
		return postgresURLSecrets(dsn, u)
	}
	return kvSecrets(dsn, scanKV(dsn))
}

// urlParts splits a URL-shaped DSN into everything up to the end of the
// authority, the path (with its leading '/'), and the query and fragment.
func urlParts(s string) (head, path, tail string) {
	i := schemeEnd(s)
	if i < 0 {
		return "", "", s
	}
	rest := s[i:]
	from := userinfoEnd(rest) + 1
	end := strings.IndexAny(rest[from:], "/?#")
	if end < 0 {
		return s, "", ""
	}
	end += from
	head, r := s[:i]+rest[:end], rest[end:]
	if !strings.HasPrefix(r, "/") {
		return head, "", r
	}
	if q := strings.IndexAny(r, "?#"); q >= 0 {
		return head, r[:q], r[q:]
	}
	return head, r, ""
}

// postgresDatabase returns the dbname of a PostgreSQL DSN, or "".
func postgresDatabase(dsn string) string {
	if schemeEnd(dsn) >= 0 {
		_, path, _ := urlParts(dsn)
		name, err := url.PathUnescape(strings.TrimPrefix(path, "/"))
		if err != nil {
			return ""
		}
		return name
	}
	name, _ := kvGet(scanKV(dsn), "dbname")
	return name
}

// postgresWithDatabase replaces the dbname of a PostgreSQL DSN, keeping the
// rest of it as written.
func postgresWithDatabase(dsn, name string) (string, error) {
	if name == "" {
		return "", errors.New("empty database name")
	}
	if schemeEnd(dsn) >= 0 {
		head, _, tail := urlParts(dsn)
		return head + "/" + url.PathEscape(name) + tail, nil
	}
	pairs, err := parseKV(dsn)
	if err != nil {
		return "", err
	}
	for i := len(pairs) - 1; i >= 0; i-- {
		if pairs[i].key == "dbname" {
			p := pairs[i]
			return dsn[:p.start] + kvQuote(name) + dsn[p.end:], nil
		}
	}
	return fmt.Sprintf("%s dbname=%s", strings.TrimRight(dsn, " \t\r\n"), kvQuote(name)), nil
}
