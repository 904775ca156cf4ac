package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/migrations"
)

func instancesCommand() *command {
	cfg := &runConfig{}
	var force bool
	return &command{
		name:    "instances",
		summary: "List the service instances using the compat plugin (live and stale), or forget a dead one.",
		usage:   "[forget ID [--force]]",
		example: "tandem instances --dsn postgres://app@db:5432/app\ntandem instances forget web-3-1a2b3c4d5e6f7a8b",
		flags: func(fs *flag.FlagSet) {
			cfg.connFlags(fs)
			fs.BoolVar(&force, "force", false, "forget an instance even though its heartbeat is current")
		},
		run: func(ctx context.Context, a *app, fs *flag.FlagSet) int {
			cfg.logf = a.logger(cfg.verbose)
			args := fs.Args()
			switch {
			case len(args) == 0:
				return runInstances(ctx, a, cfg)
			case len(args) == 2 && args[0] == "forget":
				r, done, err := a.runner(ctx, cfg)
				if err != nil {
					return a.fail("instances", err)
				}
				defer done()
				if err := r.Forget(ctx, args[1], force); err != nil {
					if errors.Is(err, migrations.ErrUnknownInstance) {
						return a.failCode("instances", err, migrations.ExitError)
					}
					return a.fail("instances", err)
				}
				if cfg.jsonOut {
					return a.printJSON(map[string]string{"forgotten": args[1]})
				}
				fmt.Fprintf(a.out, "instance %s forgotten\n", args[1])
				return migrations.ExitOK
			default:
				return a.fail("instances", usageError{errors.New("want 'instances' or 'instances forget ID'")})
			}
		},
	}
}

func runInstances(ctx context.Context, a *app, cfg *runConfig) int {
	r, done, err := a.runner(ctx, cfg)
	if err != nil {
		return a.fail("instances", err)
	}
	defer done()
	insts, err := r.Instances(ctx)
	if err != nil {
		return a.fail("instances", err)
	}
	if cfg.jsonOut {
		return a.printJSON(insts)
	}
	if len(insts) == 0 {
		fmt.Fprintln(a.out, "no instances registered")
		return migrations.ExitOK
	}
	now := store.Now()
	fmt.Fprintf(a.out, "%-34s %-8s %-20s %-8s %-16s %-15s %-5s %s\n", "ID", "STATUS", "HOST", "PID", "RELEASE", "SEEN STATE", "MODE", "HEARTBEAT")
	for _, in := range insts {
		status := "live"
		if !in.Live {
			status = "stale"
		}
		release := in.Release
		if in.FollowsStamp != 0 {
			release += " as " + in.Follows().String() // the release whose state it saw
		}
		fmt.Fprintf(a.out, "%-34s %-8s %-20s %-8d %-16s %-15s %-5s %s ago\n", in.ID, status, in.Host, in.PID, release, in.SeenState, in.Mode, now.Sub(in.HeartbeatAt).Round(time.Second))
	}
	return migrations.ExitOK
}
