package backup

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemdb/tandem/internal/dialect"
)

// myConn is how a MySQL target is handed to the dump tool and the client:
// connection options without the password, the password in an option file
// only the current user can read, and the database name.
type myConn struct {
	args     []string // connection options, after --defaults-extra-file
	optFile  string   // "" when the DSN has no password
	database string
	secrets  []string
	cleanup  func()
}

// mysqlConn converts the DSN of a MySQL target to a myConn. The tool at
// path is asked for its version to pick the TLS options of its flavour.
// The caller must call cleanup, which removes the option file.
func mysqlConn(ctx context.Context, t dialect.Target, path string) (*myConn, error) {
	cfg, err := mysql.ParseDSN(t.DSN)
	if err != nil {
		return nil, fmt.Errorf("read MySQL connection string %s: not a valid DSN", t)
	}
	c := &myConn{database: cfg.DBName, cleanup: func() {}}
	if c.database == "" {
		return nil, fmt.Errorf("connection string %s names no database; add it after the '/', e.g. user@tcp(host:3306)/app", t)
	}
	switch cfg.Net {
	case "", "tcp", "tcp4", "tcp6":
		addr := cfg.Addr
		if addr == "" {
			addr = "127.0.0.1:3306"
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			host, port = addr, "3306"
		}
		c.args = append(c.args, "--protocol=tcp", "--host="+host, "--port="+port)
	case "unix":
		c.args = append(c.args, "--protocol=socket", "--socket="+cfg.Addr)
	default:
		return nil, fmt.Errorf("connection string %s uses network %q, which the MySQL tools cannot reach; use tcp or unix", t, cfg.Net)
	}
	if cfg.User != "" {
		c.args = append(c.args, "--user="+cfg.User)
	}
	tls, err := mysqlTLSArgs(ctx, cfg.TLSConfig, path)
	if err != nil {
		return nil, err
	}
	c.args = append(c.args, tls...)
	c.args = append(c.args, "--default-character-set=utf8mb4")
	if cfg.Passwd != "" {
		c.secrets = []string{cfg.Passwd, optionQuote(cfg.Passwd)}
		dir, err := os.MkdirTemp("", "tandem-backup-")
		if err != nil {
			return nil, fmt.Errorf("create option file for the password: %w", err)
		}
		c.cleanup = func() { _ = os.RemoveAll(dir) }
		c.optFile = filepath.Join(dir, "client.cnf")
		body := "[client]\npassword=" + optionQuote(cfg.Passwd) + "\n"
		if err := os.WriteFile(c.optFile, []byte(body), 0o600); err != nil {
			c.cleanup()
			return nil, fmt.Errorf("write option file for the password: %w", err)
		}
	}
	return c, nil
}

// connArgs returns the options that connect the tool: the option file
// first, as the tools require.
func (c *myConn) connArgs() []string {
	var args []string
	if c.optFile != "" {
		args = append(args, "--defaults-extra-file="+c.optFile)
	}
	return append(args, c.args...)
}

// optionQuote quotes a value for a MySQL option file: in double quotes,
// with backslash and double quote escaped.
func optionQuote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(v) + `"`
}

// mysqlTLSArgs maps the DSN's tls parameter to the tool's options, which
// differ between MariaDB's and MySQL's tools. No tls parameter (or false)
// turns TLS off, as the Go driver does; a TLS configuration registered in
// Go is taken as a request for a verified connection.
func mysqlTLSArgs(ctx context.Context, mode, path string) ([]string, error) {
	out, err := invocation{path: path, args: []string{"--version"}}.output(ctx)
	if err != nil {
		return nil, err
	}
	if strings.Contains(out, "MariaDB") {
		switch mode {
		case "", "false":
			return []string{"--skip-ssl"}, nil
		case "preferred":
			return nil, nil
		case "skip-verify":
			return []string{"--ssl", "--skip-ssl-verify-server-cert"}, nil
		default:
			return []string{"--ssl", "--ssl-verify-server-cert"}, nil
		}
	}
	switch mode {
	case "", "false":
		return []string{"--ssl-mode=DISABLED"}, nil
	case "preferred":
		return []string{"--ssl-mode=PREFERRED"}, nil
	case "skip-verify":
		return []string{"--ssl-mode=REQUIRED"}, nil
	default:
		return []string{"--ssl-mode=VERIFY_IDENTITY"}, nil
	}
}

// mysqlHint recognises failures of the MySQL tools that have a known remedy.
func mysqlHint(stderr string) string {
	switch {
	case strings.Contains(stderr, "Access denied"):
		return "check the user and password of the connection string, and that the user may read the database (SELECT, SHOW VIEW, TRIGGER, and for routines SELECT on mysql.proc or SHOW_ROUTINE)"
	case strings.Contains(stderr, "unknown option"), strings.Contains(stderr, "unknown variable"):
		return "this dump tool does not take the options tandem passes; point " + EnvMySQLDump + " or " + EnvMySQL + " at a MariaDB or MySQL 8 tool"
	}
	return ""
}

// mysqlDump runs the dump tool in one consistent snapshot
// (--single-transaction) with routines and triggers, writing to w. The dump
// names no database (no CREATE DATABASE or USE), so it restores into any.
func mysqlDump(ctx context.Context, t dialect.Target, tool string, w io.Writer) error {
	c, err := mysqlConn(ctx, t, tool)
	if err != nil {
		return err
	}
	defer c.cleanup()
	args := append(c.connArgs(), "--single-transaction", "--routines", "--triggers", "--hex-blob", "--no-tablespaces", c.database)
	return invocation{path: tool, args: args, stdout: w, secrets: c.secrets, hints: mysqlHint}.run(ctx)
}

// mysqlRestore feeds file to the command-line client, connected to t's
// database.
func mysqlRestore(ctx context.Context, t dialect.Target, tool, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("open backup: %w", err)
	}
	defer f.Close()
	c, err := mysqlConn(ctx, t, tool)
	if err != nil {
		return err
	}
	defer c.cleanup()
	args := append(c.connArgs(), "--batch", "--database="+c.database)
	return invocation{path: tool, args: args, stdin: f, secrets: c.secrets, hints: mysqlHint}.run(ctx)
}
