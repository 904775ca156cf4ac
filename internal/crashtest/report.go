package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/tandemdb/tandem/internal/dbtest"
	"github.com/tandemdb/tandem/internal/dialect"
)

// tally counts the trials of one dialect and phase.
type tally struct {
	trials, kills, restarts, failures int
	resumed                           int // statements counted as done on resume (MySQL)
	time                              time.Duration
}

// summary counts trials by dialect and phase.
type summary struct {
	by    map[string]*tally
	order []string
}

func newSummary() *summary { return &summary{by: map[string]*tally{}} }

func (s *summary) add(r trialResult) {
	k := string(r.dialect) + "\t" + string(r.phase)
	t := s.by[k]
	if t == nil {
		t = &tally{}
		s.by[k] = t
		s.order = append(s.order, k)
	}
	t.trials++
	t.kills += r.kills
	t.restarts += r.restarts()
	t.resumed += r.resumed()
	if r.failed() {
		t.failures++
	}
	t.time += r.dur
}

func (s *summary) failures() int {
	n := 0
	for _, t := range s.by {
		n += t.failures
	}
	return n
}

// write prints the table in Markdown, dialects and phases in run order.
func (s *summary) write(w io.Writer) {
	fmt.Fprintln(w, "| dialect | phase | trials | kills | restarts | failures | resumed statements | mean trial |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|")
	var all tally
	for _, d := range dbtest.Dialects() {
		for _, p := range allPhases {
			t := s.by[string(d)+"\t"+string(p)]
			if t == nil {
				continue
			}
			fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %d | %s |\n", d, p, t.trials, t.kills, t.restarts, t.failures, t.resumed,
				(t.time / time.Duration(t.trials)).Round(time.Millisecond))
			all.trials += t.trials
			all.kills += t.kills
			all.restarts += t.restarts
			all.failures += t.failures
			all.resumed += t.resumed
			all.time += t.time
		}
	}
	if all.trials > 0 {
		fmt.Fprintf(w, "| **all** | | **%d** | **%d** | **%d** | **%d** | %d | %s |\n", all.trials, all.kills, all.restarts, all.failures, all.resumed,
			(all.time / time.Duration(all.trials)).Round(time.Millisecond))
	}
}

// machine describes where the run happened, for the report.
func machine(ctx context.Context, dialects []dialect.Name) string {
	cpu := runtime.GOARCH
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	parts := []string{fmt.Sprintf("%s/%s, %d CPU (%s), %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu, runtime.Version())}
	for _, d := range dialects {
		if v := serverVersion(ctx, d); v != "" {
			parts = append(parts, v)
		}
	}
	return strings.Join(parts, "; ")
}

func serverVersion(ctx context.Context, d dialect.Name) string {
	var q string
	switch d {
	case dialect.Postgres:
		q = "SHOW server_version"
	case dialect.MySQL:
		q = "SELECT VERSION()"
	default:
		q = "SELECT 'SQLite ' || sqlite_version()"
	}
	dsn := dbtest.ServerDSN(d)
	if d == dialect.SQLite {
		dsn = "sqlite::memory:"
	}
	t, err := dialect.ParseDSN(dsn)
	if err != nil {
		return ""
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	db, err := dialect.Open(cctx, t, gormConfig)
	if err != nil {
		return ""
	}
	defer func() {
		if s, err := db.DB(); err == nil {
			_ = s.Close()
		}
	}()
	var v string
	if err := db.WithContext(cctx).Raw(q).Scan(&v).Error; err != nil {
		return ""
	}
	switch d {
	case dialect.Postgres:
		return "PostgreSQL " + v
	case dialect.MySQL:
		return "MySQL/MariaDB " + v
	}
	return v
}
