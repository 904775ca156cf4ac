package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// killPlan says when to kill one run of the tandem binary with SIGKILL.
// Either after a delay from its start (the delay drawn up to the length of
// an uninterrupted run), or just after it printed a given log line (every
// migration applied, every backfill batch prints one with -v --json), plus
// a short delay: that lands kills inside each step whatever the machine's
// speed.
type killPlan struct {
	after time.Duration // > 0: kill this long after the start
	line  int           // > 0: kill after the line-th line on stderr ...
	delay time.Duration // ... and this long
}

func (k killPlan) none() bool { return k.after <= 0 && k.line <= 0 }

func (k killPlan) String() string {
	switch {
	case k.after > 0:
		return fmt.Sprintf("kill at %s", k.after.Round(10*time.Microsecond))
	case k.line > 0:
		return fmt.Sprintf("kill %s after line %d", k.delay.Round(10*time.Microsecond), k.line)
	}
	return "no kill"
}

// drawKill draws a kill plan for a run whose uninterrupted length is about
// dur, printing about lines lines.
func drawKill(rng *rand.Rand, dur time.Duration, lines int) killPlan {
	if lines > 0 && rng.IntN(2) == 0 {
		return killPlan{line: 1 + rng.IntN(lines), delay: time.Duration(rng.Int64N(int64(3 * time.Millisecond)))}
	}
	return killPlan{after: time.Duration(1 + rng.Int64N(int64(max(dur, time.Millisecond))))}
}

// runResult is one run of the tandem binary.
type runResult struct {
	plan   killPlan
	killed bool // ended by our SIGKILL
	code   int  // exit code when not killed
	dur    time.Duration
	lines  int
	stdout string
	stderr string
	err    error // the binary could not be started
}

// lineWriter keeps what a process writes and calls at after its n-th line.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines int
	n     int
	at    func()
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, c := range p {
		if c == '\n' {
			w.lines++
			if w.lines == w.n && w.at != nil {
				w.at()
			}
		}
	}
	return len(p), nil
}

func (w *lineWriter) result() (string, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.lines
}

// run starts bin with args, kills it as plan says, and waits for it.
func run(ctx context.Context, bin string, args []string, plan killPlan) runResult {
	res := runResult{plan: plan}
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	kill := func() { _ = cmd.Process.Kill() } // after Wait it does nothing
	stderr := &lineWriter{n: plan.line}
	var timer *time.Timer
	var tmu sync.Mutex
	if plan.line > 0 {
		stderr.at = func() {
			tmu.Lock()
			defer tmu.Unlock()
			timer = time.AfterFunc(plan.delay, kill)
		}
	}
	cmd.Stderr = stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		res.err = err
		return res
	}
	if plan.after > 0 {
		tmu.Lock()
		timer = time.AfterFunc(plan.after, kill)
		tmu.Unlock()
	}
	err := cmd.Wait()
	res.dur = time.Since(start)
	tmu.Lock()
	if timer != nil {
		timer.Stop()
	}
	tmu.Unlock()
	res.stdout = stdout.String()
	res.stderr, res.lines = stderr.result()
	var ee *exec.ExitError
	switch {
	case err == nil:
		res.code = 0
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			res.killed = true
		}
	default:
		res.err = err
	}
	return res
}
