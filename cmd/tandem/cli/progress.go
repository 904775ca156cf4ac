package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"

	"github.com/tandemdb/tandem/migrations"
)

// progressPrinter shows the backfill's progress: a bar per table on a
// terminal, JSON lines with --json, else a log line every few seconds.
func (a *app) progressPrinter(asJSON bool) func(migrations.Progress) {
	var mu sync.Mutex
	if asJSON {
		enc := json.NewEncoder(a.err)
		return func(p migrations.Progress) {
			mu.Lock()
			defer mu.Unlock()
			_ = enc.Encode(p)
		}
	}
	f, tty := a.err.(*os.File)
	tty = tty && isatty.IsTerminal(f.Fd())
	last := map[string]time.Time{}
	return func(p migrations.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if tty {
			fmt.Fprintf(a.err, "\r%-24s %s", p.Table, bar(p))
			if p.Finished {
				fmt.Fprintln(a.err)
			}
			return
		}
		if p.Finished || time.Since(last[p.Table]) >= 5*time.Second {
			last[p.Table] = time.Now()
			fmt.Fprintf(a.err, "%s backfill %s: %s\n", time.Now().Format("15:04:05"), p.Table, bar(p))
		}
	}
}

func bar(p migrations.Progress) string {
	const width = 30
	// Rows written stale while the backfill runs can push Done past the
	// estimate made when the table started.
	p.Estimated = max(p.Estimated, p.Done)
	frac := 1.0
	if p.Estimated > 0 {
		frac = min(1, float64(p.Done)/float64(p.Estimated))
	}
	n := int(frac * width)
	eta := "-"
	if p.ETA > 0 {
		eta = p.ETA.Round(time.Second).String()
	}
	return fmt.Sprintf("[%s%s] %d/%d rows, %.0f rows/s, ETA %s", strings.Repeat("#", n), strings.Repeat(".", width-n), p.Done, p.Estimated, p.Rate, eta)
}
