package workload

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tandemdb/tandem/compat"
)

// Exit codes of the shop binaries.
const (
	ExitOK      = 0 // done, or stopped by SIGTERM/SIGINT
	ExitError   = 1 // a write failed, the database is unreachable, verify found a difference
	ExitUsage   = 2 // bad command line
	ExitRefused = 3 // the compat plugin's start-up guard refused this release
)

// Config is a binary's command line.
type Config struct {
	Mode      string        // write, seed, read or verify
	DSN       string        // --dsn, default $TANDEM_DSN
	IDs       IDs           // --id-range and --share
	Rate      float64       // --rate: writes per second, 0 for as fast as possible
	Duration  time.Duration // --duration: 0 writes until SIGTERM/SIGINT
	Seed      int64         // --seed of the writer's random choices
	Logs      []string      // --log: the write log (verify: every log to replay, in order)
	JSON      bool          // --json: read prints JSON lines
	Poll      time.Duration // --poll: how often the plugin reloads the flag
	Heartbeat time.Duration // --heartbeat: how often the instance reports itself
	TTL       time.Duration // --heartbeat-ttl: after how long without a report it counts as gone
}

type logList []string

func (l *logList) String() string     { return strings.Join(*l, ",") }
func (l *logList) Set(v string) error { *l = append(*l, v); return nil }

// ParseArgs reads `prog MODE [flags]`. modes lists the modes the binary
// offers. A request for help is flag.ErrHelp, after the usage was printed
// to stderr.
func ParseArgs(prog string, modes []string, args []string) (*Config, error) {
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: %s %s [flags]\n\n", prog, strings.Join(modes, "|"))
		fmt.Fprintf(w, "  seed    create the customer and parcel of every id of --id-range/--share that is missing, then exit\n")
		fmt.Fprintf(w, "  write   create and update customers and parcels of the owned ids at --rate until --duration or SIGTERM,\n")
		fmt.Fprintf(w, "          logging each committed write as a JSON line to --log\n")
		fmt.Fprintf(w, "  read    print the customers and their parcels as this release sees them\n")
		if slices.Contains(modes, "verify") {
			fmt.Fprintf(w, "  verify  replay the --log files (in the order their writers owned the ids) and compare every row; exit 1 on a difference\n")
		}
		fmt.Fprintf(w, "\nflags:\n")
	}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") || !slices.Contains(modes, args[0]) {
		usage(os.Stderr)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			return nil, flag.ErrHelp
		}
		return nil, fmt.Errorf("%s: want a mode, one of %s", prog, strings.Join(modes, ", "))
	}
	c := &Config{Mode: args[0]}
	fs := flag.NewFlagSet(prog+" "+c.Mode, flag.ContinueOnError)
	fs.Usage = func() { usage(fs.Output()); fs.PrintDefaults() }
	var rng, share string
	var logs logList
	fs.StringVar(&c.DSN, "dsn", os.Getenv("TANDEM_DSN"), "database: postgres://..., mysql://..., sqlite:PATH (default $TANDEM_DSN)")
	fs.StringVar(&rng, "id-range", "1-100", "the ids this process owns: FIRST-LAST")
	fs.StringVar(&share, "share", "", "own only share K/N of --id-range: the ids whose offset in the range is K-1 modulo N")
	fs.Float64Var(&c.Rate, "rate", 20, "writes per second (0: as fast as possible)")
	fs.DurationVar(&c.Duration, "duration", 0, "stop writing after this long (0: at SIGTERM/SIGINT)")
	fs.Int64Var(&c.Seed, "seed", 1, "seed of the random choices")
	fs.Var(&logs, "log", "JSON-lines file each committed write is appended to (verify: repeat it, seed log first)")
	fs.BoolVar(&c.JSON, "json", false, "read: print one JSON object per customer")
	fs.DurationVar(&c.Poll, "poll", 2*time.Second, "how often the plugin reloads the release states")
	fs.DurationVar(&c.Heartbeat, "heartbeat", 5*time.Second, "how often the instance reports itself in tandem_instances")
	fs.DurationVar(&c.TTL, "heartbeat-ttl", 30*time.Second, "after how long without a heartbeat the instance counts as gone")
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, fmt.Errorf("%s %s: unexpected argument %q", prog, c.Mode, fs.Arg(0))
	case c.DSN == "":
		return nil, errors.New("no database given: pass --dsn or set TANDEM_DSN")
	case c.Rate < 0 || c.Duration < 0:
		return nil, errors.New("--rate and --duration must not be negative")
	case c.Mode != "verify" && len(logs) > 1:
		return nil, errors.New("--log: one file per process (two processes must not share one either)")
	case c.Mode == "verify" && len(logs) == 0:
		return nil, errors.New("verify needs the writers' logs: --log seed.jsonl --log a.jsonl ...")
	}
	c.Logs = logs
	var err error
	if c.IDs, err = ParseIDs(rng, share); err != nil {
		return nil, err
	}
	return c, nil
}

// Log returns the write log's path, "" for none.
func (c *Config) Log() string {
	if len(c.Logs) == 0 {
		return ""
	}
	return c.Logs[0]
}

// PluginOptions returns the compat options the flags ask for.
func (c *Config) PluginOptions() []compat.Option {
	return []compat.Option{compat.WithPollInterval(c.Poll), compat.WithHeartbeat(c.Heartbeat, c.TTL)}
}
