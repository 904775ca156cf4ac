package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/google/wire"

	"github.com/tandemdb/tandem/internal/buildinfo"
)

// Exit codes shared by every command; the README documents them.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// Streams are the standard streams of one run of the CLI.
type Streams struct {
	In       io.Reader
	Out, Err io.Writer
}

// Stdio returns the process's standard streams.
func Stdio() Streams { return Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr} }

// command is one subcommand of the CLI.
type command struct {
	name    string
	summary string
	usage   string // arguments after the command name
	example string
	flags   func(fs *flag.FlagSet) // declares the command's flags
	run     func(ctx context.Context, a *app, fs *flag.FlagSet) int
}

// app is the composed CLI.
type app struct {
	in       io.Reader
	out, err io.Writer
	info     buildinfo.Info
	settings settings
	commands map[string]*command
	open     runnerFactory
	secrets  []string // passwords to scrub from everything printed
}

var appSet = wire.NewSet(buildinfo.Read, newCommands, newApp, provideRunnerFactory)

func newApp(s Streams, st settings, info buildinfo.Info, cmds []*command, open runnerFactory) *app {
	a := &app{in: s.In, out: s.Out, err: s.Err, settings: st, info: info, commands: map[string]*command{}, open: open}
	for _, c := range cmds {
		a.commands[c.name] = c
	}
	return a
}

func newCommands() []*command {
	return append([]*command{versionCommand(), helpCommand()}, engineCommands()...)
}

func (a *app) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		a.usage(a.err)
		return exitUsage
	}
	name := args[0]
	if name == "-h" || name == "--help" || name == "-help" {
		name = "help"
	}
	c, ok := a.commands[name]
	if !ok {
		fmt.Fprintf(a.err, "tandem: unknown command %q\n", args[0])
		if s := a.suggest(args[0]); s != "" {
			fmt.Fprintf(a.err, "Did you mean %q?\n", s)
		}
		fmt.Fprintln(a.err, "Run 'tandem help' for the list of commands.")
		return exitUsage
	}
	fs := flag.NewFlagSet("tandem "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if c.flags != nil {
		c.flags(fs)
	}
	if err := parseInterleaved(fs, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			a.commandHelp(a.out, c, fs)
			return exitOK
		}
		fmt.Fprintf(a.err, "tandem %s: %v\n", c.name, err)
		fmt.Fprintf(a.err, "Run 'tandem help %s' for usage.\n", c.name)
		return exitUsage
	}
	return c.run(ctx, a, fs)
}

func (a *app) usage(w io.Writer) {
	fmt.Fprintln(w, "tandem runs zero-downtime schema changes (expand, migrate, contract) for services")
	fmt.Fprintln(w, "whose two releases share one database.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: tandem <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(a.commands))
	for n := range a.commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, a.commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'tandem help <command>' for a command's flags and an example.")
}

func (a *app) commandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: tandem %s %s\n\n%s\n", c.name, c.usage, c.summary)
	var hasFlags bool
	fs.VisitAll(func(*flag.Flag) { hasFlags = true })
	if hasFlags {
		fmt.Fprintln(w, "\nFlags:")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	if c.example != "" {
		fmt.Fprintf(w, "\nExample:\n  %s\n", strings.ReplaceAll(c.example, "\n", "\n  "))
	}
}

// suggest returns the command whose name is closest to s, if any is close.
func (a *app) suggest(s string) string {
	best, bestD := "", 3
	for n := range a.commands {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

func versionCommand() *command {
	var asJSON bool
	return &command{
		name:    "version",
		summary: "Print the version of tandem.",
		example: "tandem version --json",
		flags:   func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print as JSON") },
		run: func(_ context.Context, a *app, fs *flag.FlagSet) int {
			if fs.NArg() > 0 {
				fmt.Fprintf(a.err, "tandem version: unexpected argument %q\n", fs.Arg(0))
				return exitUsage
			}
			if asJSON {
				enc := json.NewEncoder(a.out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(a.info); err != nil {
					return exitError
				}
				return exitOK
			}
			fmt.Fprintln(a.out, a.info)
			return exitOK
		},
	}
}

func helpCommand() *command {
	return &command{
		name:    "help",
		summary: "Show the commands, or one command's flags and an example.",
		usage:   "[command]",
		example: "tandem help version",
		run: func(_ context.Context, a *app, fs *flag.FlagSet) int {
			if fs.NArg() == 0 {
				a.usage(a.out)
				return exitOK
			}
			c, ok := a.commands[fs.Arg(0)]
			if !ok {
				fmt.Fprintf(a.err, "tandem help: unknown command %q\n", fs.Arg(0))
				return exitUsage
			}
			cfs := flag.NewFlagSet("tandem "+c.name, flag.ContinueOnError)
			if c.flags != nil {
				c.flags(cfs)
			}
			a.commandHelp(a.out, c, cfs)
			return exitOK
		},
	}
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments (tandem flag set contract-ready --release 2.0); "--"
// ends the flags. The positional arguments are left in fs.Args().
func parseInterleaved(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}
