package cli

import (
	"context"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/tandemdb/tandem/migrations"
)

// runner notes the password of the DSN the command will use, so that
// nothing printed afterwards can carry it, and builds the runner with the
// migrations and models the binary was built with (cli.WithMigrations,
// cli.WithGoMigrations, cli.WithModels).
func (a *app) runner(ctx context.Context, cfg *runConfig) (*migrations.Runner, func(), error) {
	cfg.settings = a.settings
	for _, dsn := range []string{cfg.dsn, os.Getenv("TANDEM_DSN"), os.Getenv("DATABASE_URL")} {
		a.secrets = append(a.secrets, passwords(dsn)...)
	}
	if err := cfg.check(); err != nil {
		return nil, nil, err
	}
	octx, cancel := cfg.connectContext(ctx)
	defer cancel()
	r, done, err := a.open(octx, cfg)
	if err != nil {
		return nil, nil, cfg.connectError(ctx, octx, err)
	}
	return r, done, nil
}

var kvPassword = regexp.MustCompile(`(?i)(?:^|\s)(?:ssl)?password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// passwords returns the passwords a DSN carries, raw and URL-decoded.
func passwords(dsn string) []string {
	var out []string
	add := func(p string) {
		if len(p) >= 3 { // shorter strings would scrub ordinary words
			out = append(out, p)
			if u, err := url.QueryUnescape(p); err == nil && u != p {
				out = append(out, u)
			}
		}
	}
	if i := strings.Index(dsn, "://"); i >= 0 {
		if u, err := url.Parse(dsn); err == nil {
			if p, ok := u.User.Password(); ok {
				add(p)
				add(url.QueryEscape(p))
			}
			for _, k := range []string{"password", "sslpassword"} {
				add(u.Query().Get(k))
			}
		}
		if at := strings.LastIndex(dsn, "@"); at > i {
			if c := strings.Index(dsn[i+3:at], ":"); c >= 0 {
				add(dsn[i+3+c+1 : at])
			}
		}
		return out
	}
	for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
		add(strings.Trim(m[1], "'"))
	}
	if cfg, err := mysql.ParseDSN(dsn); err == nil {
		add(cfg.Passwd)
	}
	return out
}
