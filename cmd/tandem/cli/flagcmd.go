package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/tandemdb/tandem/migrations"
	"github.com/tandemdb/tandem/versions"
)

func flagCommand() *command {
	cfg := &runConfig{}
	return &command{
		name:    "flag",
		summary: "Show the release states, or set the ready-for-contract flag (contract-ready; refused while the release's expand is pending or an older instance is live) or flip it back (migrating).",
		usage:   "show | set --release R contract-ready|migrating",
		example: "tandem flag set --release 2.0 contract-ready\ntandem flag set --release 2.0 migrating   # flip back before the contract\ntandem flag show --json",
		flags: func(fs *flag.FlagSet) {
			cfg.connFlags(fs)
			cfg.releaseFlag(fs, "release whose flag to set")
		},
		run: func(ctx context.Context, a *app, fs *flag.FlagSet) int {
			cfg.logf = a.logger(cfg.verbose)
			args := fs.Args()
			switch {
			case len(args) == 1 && args[0] == "show":
				return runFlagShow(ctx, a, cfg)
			case len(args) == 2 && args[0] == "set":
				return runFlagSet(ctx, a, cfg, args[1])
			default:
				return a.fail("flag", usageError{errors.New("want 'flag show' or 'flag set --release R contract-ready|migrating'")})
			}
		},
	}
}

func runFlagShow(ctx context.Context, a *app, cfg *runConfig) int {
	r, done, err := a.runner(ctx, cfg)
	if err != nil {
		return a.fail("flag", err)
	}
	defer done()
	st, err := r.Status(ctx)
	if err != nil {
		return a.fail("flag", err)
	}
	if cfg.jsonOut {
		type row struct {
			Release string         `json:"release"`
			State   versions.State `json:"state"`
			Mode    string         `json:"mode,omitempty"`
		}
		out := []row{}
		for _, rs := range st.Releases {
			out = append(out, row{rs.Release, rs.State, rs.Mode})
		}
		return a.printJSON(out)
	}
	for _, rs := range st.Releases {
		fmt.Fprintf(a.out, "%-10s %-15s %s\n", rs.Release, rs.State, rs.Mode)
	}
	return migrations.ExitOK
}

func runFlagSet(ctx context.Context, a *app, cfg *runConfig, state string) int {
	if cfg.release == "" {
		return a.fail("flag", usageError{fmt.Errorf("--release is required: the release whose flag to set, e.g. tandem flag set --release 2.0 %s", state)})
	}
	rel, err := cfg.targetRelease()
	if err != nil {
		return a.fail("flag", err)
	}
	to, err := versions.ParseState(state)
	if err != nil || (to != versions.StateContractReady && to != versions.StateExpanded) {
		return a.fail("flag", usageError{fmt.Errorf("state %q: want contract-ready (the ready-for-contract flag) or migrating (flip back)", state)})
	}
	r, done, err := a.runner(ctx, cfg)
	if err != nil {
		return a.fail("flag", err)
	}
	defer done()
	if err := r.SetState(ctx, rel, to); err != nil {
		var te *versions.TransitionError
		if errors.As(err, &te) {
			return a.failCode("flag", err, migrations.ExitBlocked)
		}
		return a.fail("flag", err)
	}
	if cfg.jsonOut {
		return a.printJSON(map[string]string{"release": rel.String(), "state": string(to)})
	}
	fmt.Fprintf(a.out, "release %s is now %s %s\n", rel, to, to.Mode())
	return migrations.ExitOK
}
