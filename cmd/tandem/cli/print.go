package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"strings"

	"github.com/tandemdb/tandem/internal/store"
	"github.com/tandemdb/tandem/migrations"
)

// fail prints err for command name and returns its exit code.
func (a *app) fail(name string, err error) int {
	code := migrations.ExitCode(err)
	var ue usageError
	if errors.As(err, &ue) {
		code = migrations.ExitUsage
	}
	return a.failCode(name, err, code)
}

func (a *app) failCode(name string, err error, code int) int {
	fmt.Fprintf(a.err, "tandem %s: %s\n", name, a.scrub(err.Error()))
	if code == migrations.ExitUsage {
		fmt.Fprintf(a.err, "Run 'tandem help %s' for usage.\n", name)
	}
	return code
}

// scrub removes every known password from s.
func (a *app) scrub(s string) string {
	for _, p := range a.secrets {
		if p != "" {
			s = strings.ReplaceAll(s, p, "xxxxx")
		}
	}
	return s
}

// logger returns a printf to stderr when on, else a no-op.
func (a *app) logger(on bool) func(string, ...any) {
	if !on {
		return nil
	}
	l := log.New(a.err, "", log.Ltime)
	return func(format string, args ...any) { l.Print(a.scrub(fmt.Sprintf(format, args...))) }
}

func (a *app) printJSON(v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		fmt.Fprintf(a.err, "tandem: encode JSON: %v\n", err)
		return migrations.ExitError
	}
	fmt.Fprintln(a.out, a.scrub(string(b)))
	return migrations.ExitOK
}

func (a *app) printPlan(p *migrations.Plan, asJSON bool) int {
	if asJSON {
		return a.printJSON(p)
	}
	fmt.Fprintf(a.out, "plan up to release %s on %s\n", p.Target, p.Dialect)
	for _, ph := range p.Phases {
		fmt.Fprintf(a.out, "\n== %s: %d migration(s)\n", ph.Phase, len(ph.Steps))
		for _, s := range ph.Steps {
			note := ""
			if s.Retry {
				note = " (retry of a failed run"
				if s.Resume > 0 {
					note += fmt.Sprintf(", resuming at statement %d", s.Resume+1)
				}
				note += ")"
			}
			if s.Kind == migrations.KindGo {
				fmt.Fprintf(a.out, "-- %s: Go migration%s\n", s.ID, note)
				continue
			}
			fmt.Fprintf(a.out, "-- %s: %s%s\n%s\n", s.ID, s.File, note, strings.TrimRight(s.SQL, "\n"))
		}
	}
	return migrations.ExitOK
}

func (a *app) printStatus(st *migrations.Status) {
	fmt.Fprintf(a.out, "dialect: %s\n", st.Dialect)
	if !st.Initialized {
		fmt.Fprintln(a.out, "tandem tables: not created yet (run 'tandem init' or 'tandem expand')")
	}
	fmt.Fprintf(a.out, "schema version: %s\n", st.Schema)
	if st.Baseline != "" {
		fmt.Fprintf(a.out, "baseline: %s\n", st.Baseline)
	}
	fmt.Fprintf(a.out, "\n%-10s %-15s %-5s %-32s %s\n", "RELEASE", "STATE", "MODE", "HEADS", "PENDING")
	for _, r := range st.Releases {
		var pend []string
		for _, ph := range []string{"expand", "migrate", "contract"} {
			if n := len(r.Pending[ph]); n > 0 {
				pend = append(pend, fmt.Sprintf("%s %d (%s)", ph, n, strings.Join(r.Pending[ph], ", ")))
			}
		}
		if len(pend) == 0 {
			pend = []string{"-"}
		}
		fmt.Fprintf(a.out, "%-10s %-15s %-5s %-32s %s\n", r.Release, r.State, r.Mode, r.Heads, strings.Join(pend, "; "))
	}
	if f := st.LastFailure; f != nil {
		fmt.Fprintf(a.out, "\nlast failure: %s at %s by %s (%d of %d statements done):\n  %s\n",
			f.ID, f.StartedAt.Format("2006-01-02 15:04:05"), f.Actor, f.StatementsDone, f.StatementsTotal, a.scrub(strings.ReplaceAll(f.Error, "\n", "\n  ")))
	}
	if len(st.Edited) > 0 {
		fmt.Fprintf(a.out, "\nedited after they ran (run 'tandem repair' to accept): %s\n", strings.Join(st.Edited, ", "))
	}
	for _, c := range st.Conflicts {
		fmt.Fprintf(a.out, "\nmodel registry conflict: %s\n", a.scrub(c))
	}
	if len(st.Unknown) > 0 {
		fmt.Fprintf(a.out, "\napplied but not in these migration files (an older --dir?): %s\n", strings.Join(st.Unknown, ", "))
	}
}

func (a *app) printHistory(rows []store.Migration, events []store.Event) {
	fmt.Fprintf(a.out, "%-22s %-9s %-5s %-10s %-8s %-10s %s\n", "MIGRATION", "STATUS", "KIND", "DIALECT", "MS", "STATEMENTS", "ACTOR")
	for _, r := range rows {
		fmt.Fprintf(a.out, "%-22s %-9s %-5s %-10s %-8d %-10s %s\n", r.ID, r.Status, r.Kind, r.Dialect, r.DurationMS,
			fmt.Sprintf("%d/%d", r.StatementsDone, r.StatementsTotal), r.Actor)
	}
	fmt.Fprintln(a.out, "\njournal:")
	for _, e := range events {
		rel := e.Release
		if rel == "" {
			rel = "-"
		}
		fmt.Fprintf(a.out, "%s  %-9s %-6s %-24s %s\n", e.At.Format("2006-01-02 15:04:05"), e.Action, rel, e.Actor, a.scrub(e.Detail))
	}
}
