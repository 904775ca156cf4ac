// Command tandem runs expand / migrate / contract schema changes for services
// that use tandem's compat models, and reports on them.
//
// Run `tandem help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

//go:generate go tool wire

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := initApp(streams{in: os.Stdin, out: os.Stdout, err: os.Stderr}).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
