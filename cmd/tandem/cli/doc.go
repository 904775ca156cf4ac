// Package cli is the tandem command line. cmd/tandem is a thin main around
// it; a service that writes Go migrations builds its own binary with the
// same commands:
//
//	package main
//
//	//go:embed migrations/*.sql
//	var files embed.FS
//
//	func main() {
//		sub, _ := fs.Sub(files, "migrations")
//		os.Exit(cli.Main(context.Background(), os.Args[1:], cli.Stdio(),
//			cli.WithMigrations(sub),
//			cli.WithGoMigrations(migrations.GoMigration{ID: "2.0_migrate01", Revision: "1", Func: splitNames})))
//	}
//
// The package parses flags, wires a runner (with google/wire: wire.go and the
// generated wire_gen.go) and prints; every rule lives in the migrations and
// compat packages.
package cli

//go:generate go tool wire
