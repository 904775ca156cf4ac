//go:build wireinject

package main

import "github.com/google/wire"

// initApp composes the CLI.
func initApp(s streams) *app {
	wire.Build(appSet)
	return nil
}
