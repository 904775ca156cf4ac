// Command tandem runs expand / migrate / contract schema changes for services
// that use tandem's compat models, and reports on them.
//
// Run `tandem help` for the commands. A service that writes Go migrations
// builds its own copy of this command: see package cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/tandemdb/tandem/cmd/tandem/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Stdio())
	stop()
	os.Exit(code)
}
