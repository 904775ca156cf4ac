// Command shop-tandem is the sample shop's own tandem binary: the stock
// commands, with the shop's migration files compiled in and its models'
// converters available to `migrate`'s backfill.
//
//	go run ./examples/shop/shop-tandem expand --dsn postgres://... --release 2.0
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tandemdb/tandem/cmd/tandem/cli"
	"github.com/tandemdb/tandem/examples/shop"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Stdio(),
		cli.WithMigrations(shop.Migrations()),
		cli.WithModels(&shop.CustomerV2{}, &shop.ParcelV2{}))
	stop()
	os.Exit(code)
}
