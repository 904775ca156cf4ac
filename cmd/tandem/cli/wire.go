//go:build wireinject

package cli

import (
	"context"

	"github.com/google/wire"

	"github.com/tandemdb/tandem/migrations"
)

// initApp composes the CLI.
func initApp(s Streams, st settings) *app {
	wire.Build(appSet)
	return nil
}

// initRunner composes a migration runner from a command's configuration:
// the connection, the migration source and the runner's options.
func initRunner(ctx context.Context, cfg *runConfig) (*migrations.Runner, func(), error) {
	wire.Build(runnerSet)
	return nil, nil, nil
}
