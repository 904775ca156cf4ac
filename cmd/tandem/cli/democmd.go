package cli

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/tandemdb/tandem/internal/demo"
	"github.com/tandemdb/tandem/migrations"
)

func demoCommand() *command {
	var dsn string
	var customers int
	return &command{
		name:    "demo",
		summary: "Run the whole protocol on a sample service (releases 1.0 and 2.0 writing concurrently) and check that nothing was lost.",
		usage:   "[--dsn DSN] [--customers N]",
		example: "tandem demo                       # embedded SQLite in a temporary directory\ntandem demo --dsn postgres://root@127.0.0.1:5432/demo?sslmode=disable   # an empty database",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&dsn, "dsn", "", "an EMPTY PostgreSQL or MariaDB database to run on (default: SQLite in a temporary directory)")
			fs.IntVar(&customers, "customers", 300, "customers to seed")
		},
		run: func(ctx context.Context, a *app, fs *flag.FlagSet) int {
			if fs.NArg() > 0 {
				return a.fail("demo", usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))})
			}
			if dsn == "" {
				dsn = os.Getenv("TANDEM_DEMO_DSN")
			}
			a.secrets = append(a.secrets, passwords(dsn)...)
			if err := demo.Run(ctx, demo.Options{DSN: dsn, Customers: customers, Out: a.out}); err != nil {
				return a.fail("demo", err)
			}
			return migrations.ExitOK
		},
	}
}
