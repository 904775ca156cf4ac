package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/tandemdb/tandem/internal/dialect"
)

// libpqKeywords are the connection parameters libpq, and so pg_dump and
// pg_restore, understand. pgx accepts more (pool settings, runtime
// parameters such as search_path); libpq refuses those, and none of them
// changes what a dump holds, so they are left out of the tool's connection
// string.
var libpqKeywords = map[string]bool{
	"host": true, "hostaddr": true, "port": true, "dbname": true, "user": true, "passfile": true,
	"channel_binding": true, "connect_timeout": true, "client_encoding": true, "options": true,
	"application_name": true, "fallback_application_name": true, "keepalives": true,
	"keepalives_idle": true, "keepalives_interval": true, "keepalives_count": true,
	"tcp_user_timeout": true, "gssencmode": true, "sslmode": true, "sslnegotiation": true,
	"sslcompression": true, "sslcert": true, "sslkey": true, "sslcertmode": true, "sslrootcert": true,
	"sslcrl": true, "sslcrldir": true, "sslsni": true, "requirepeer": true, "require_auth": true,
	"ssl_min_protocol_version": true, "ssl_max_protocol_version": true, "krbsrvname": true,
	"gsslib": true, "gssdelegation": true, "service": true, "target_session_attrs": true,
	"load_balance_hosts": true,
}

// pgConn is how a PostgreSQL target is handed to pg_dump and pg_restore:
// a connection string without any secret for --dbname, and the password in
// the environment.
type pgConn struct {
	conninfo string
	env      []string // PGPASSWORD, PGSERVICEFILE
	secrets  []string // every spelling of the password, for scrubbing
}

// errSSLPassword refuses a DSN whose client key passphrase could only be
// handed to pg_dump on its command line.
var errSSLPassword = errors.New("the connection string sets sslpassword, which pg_dump and pg_restore could only be given on their command line; " +
	"use a client key without a passphrase for the backup, or a PGSERVICEFILE entry that holds it")

// postgresConn converts the DSN of a PostgreSQL target (a URL or a libpq
// key=value string, as dialect.ParseDSN keeps them) to a pgConn.
func postgresConn(t dialect.Target) (pgConn, error) {
	if strings.Contains(t.DSN, "://") {
		return postgresURLConn(t)
	}
	return postgresKVConn(t)
}

// postgresURLConn handles a postgres:// URL.
func postgresURLConn(t dialect.Target) (pgConn, error) {
	u, err := url.Parse(t.DSN)
	if err != nil {
		// ParseDSN accepted it with the same parser; the error may quote
		// the password, so it is not shown.
		return pgConn{}, fmt.Errorf("read PostgreSQL URL %s: not a valid URL", t)
	}
	var c pgConn
	password := ""
	if u.User != nil {
		if p, ok := u.User.Password(); ok {
			password = p
			c.secrets = append(c.secrets, rawUserinfoPassword(t.DSN))
		}
		if name := u.User.Username(); name != "" {
			u.User = url.User(name)
		} else {
			u.User = nil
		}
	}
	kept := url.Values{}
	for key, vals := range u.Query() {
		if len(vals) == 0 {
			continue
		}
		v := vals[len(vals)-1]
		switch {
		case key == "password":
			password = v
			for _, w := range vals {
				c.secrets = append(c.secrets, w, url.QueryEscape(w))
			}
		case key == "sslpassword":
			return pgConn{}, errSSLPassword
		case key == "servicefile":
			c.env = append(c.env, "PGSERVICEFILE="+v)
		case libpqKeywords[key]:
			kept[key] = []string{v}
		}
	}
	u.RawQuery = kept.Encode()
	c.conninfo = u.String()
	c.setPassword(password)
	return c, nil
}

// rawUserinfoPassword returns the password of a URL as written in it, still
// percent-encoded.
func rawUserinfoPassword(s string) string {
	i := strings.Index(s, "://")
	rest := s[i+len("://"):]
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return ""
	}
	if c := strings.IndexByte(rest[:at], ':'); c >= 0 {
		return rest[c+1 : at]
	}
	return ""
}

// postgresKVConn handles a libpq key=value string.
func postgresKVConn(t dialect.Target) (pgConn, error) {
	pairs, err := parseKV(t.DSN)
	if err != nil {
		return pgConn{}, fmt.Errorf("read PostgreSQL connection string %s: %w", t, err)
	}
	var c pgConn
	password := ""
	var b strings.Builder
	for _, p := range pairs {
		switch {
		case p.key == "password":
			password = p.value
			c.secrets = append(c.secrets, p.raw)
		case p.key == "sslpassword":
			return pgConn{}, errSSLPassword
		case p.key == "servicefile":
			c.env = append(c.env, "PGSERVICEFILE="+p.value)
		case libpqKeywords[p.key]:
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(p.key + "=" + kvQuote(p.value))
		}
	}
	c.conninfo = b.String()
	c.setPassword(password)
	return c, nil
}

// setPassword puts a non-empty password in PGPASSWORD, which libpq reads,
// and notes its spellings as secrets. An empty one leaves the environment
// as it is, so libpq finds the password where pgx would have: an inherited
// PGPASSWORD, or the password file.
func (c *pgConn) setPassword(p string) {
	if p == "" {
		return
	}
	c.env = append(c.env, "PGPASSWORD="+p)
	c.secrets = append(c.secrets, p, url.PathEscape(p), url.QueryEscape(p))
}

// kvPair is one key=value of a libpq connection string: the value
// unescaped and as written.
type kvPair struct {
	key, value, raw string
}

// parseKV splits a libpq key=value string. Its errors quote no part of the
// input.
func parseKV(s string) ([]kvPair, error) {
	var pairs []kvPair
	i := 0
	space := func() {
		for i < len(s) && strings.IndexByte(" \t\r\n\f\v", s[i]) >= 0 {
			i++
		}
	}
	for {
		space()
		if i >= len(s) {
			return pairs, nil
		}
		k := i
		for i < len(s) && s[i] != '=' && strings.IndexByte(" \t\r\n\f\v", s[i]) < 0 {
			i++
		}
		key := s[k:i]
		space()
		if i >= len(s) || s[i] != '=' {
			return nil, errors.New("expected key=value pairs")
		}
		i++
		space()
		start := i
		var v strings.Builder
		quoted := i < len(s) && s[i] == '\''
		if quoted {
			i++
		}
		closed := !quoted
		for i < len(s) {
			ch := s[i]
			if ch == '\\' && i+1 < len(s) {
				v.WriteByte(s[i+1])
				i += 2
				continue
			}
			if quoted && ch == '\'' {
				i++
				closed = true
				break
			}
			if !quoted && strings.IndexByte(" \t\r\n\f\v", ch) >= 0 {
				break
			}
			v.WriteByte(ch)
			i++
		}
		if !closed {
			return nil, errors.New("a quoted value is missing its closing quote")
		}
		pairs = append(pairs, kvPair{key: key, value: v.String(), raw: s[start:i]})
	}
}

// kvQuote quotes a value for a libpq key=value string.
func kvQuote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// pgHint recognises failures of pg_dump and pg_restore that have a known
// remedy.
func pgHint(env string) func(string) string {
	return func(stderr string) string {
		switch {
		case strings.Contains(stderr, "server version mismatch"), strings.Contains(stderr, "unsupported version"):
			return "use a " + strings.ToLower(strings.TrimPrefix(env, "TANDEM_")) + " of the server's major version or newer: set " + env + " to its path"
		case strings.Contains(stderr, "password authentication failed"), strings.Contains(stderr, "no password supplied"):
			return "check the user and password of the connection string"
		}
		return ""
	}
}

// postgresDump runs pg_dump in custom format (-Fc), writing to w.
func postgresDump(ctx context.Context, t dialect.Target, tool string, w io.Writer) error {
	c, err := postgresConn(t)
	if err != nil {
		return err
	}
	return invocation{
		path:    tool,
		args:    []string{"--no-password", "--format=custom", "--dbname=" + c.conninfo},
		env:     c.env,
		stdout:  w,
		secrets: c.secrets,
		hints:   pgHint(EnvPGDump),
	}.run(ctx)
}

// postgresRestore runs pg_restore of file into t, in one transaction that
// stops at the first error. Objects are owned by the restoring user
// (--no-owner), so a backup restores on a server without the original roles.
func postgresRestore(ctx context.Context, t dialect.Target, tool, file string) error {
	c, err := postgresConn(t)
	if err != nil {
		return err
	}
	return invocation{
		path:    tool,
		args:    []string{"--no-password", "--exit-on-error", "--single-transaction", "--no-owner", "--dbname=" + c.conninfo, file},
		env:     c.env,
		secrets: c.secrets,
		hints:   pgHint(EnvPGRestore),
	}.run(ctx)
}
