// Package fleet runs the processes of a rolling upgrade for a test: it
// builds the shop's binaries, starts service instances as separate OS
// processes, stops them with SIGTERM as an orchestrator would, and runs
// tandem commands, capturing their output and exit code.
//
//	bins := fleet.Build(t, dir, map[string]string{"v1": "github.com/.../examples/shop/v1"})
//	p := fleet.Start(t, "v1-a", env, bins["v1"], "write", "--log", "a.jsonl")
//	...
//	if code := p.Stop(t); code != 0 { ... }
package fleet

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// Build compiles each package (name -> import path) into dir/name with
// `go build`, with the race detector when the calling test has it, and
// returns the binaries' paths by name.
func Build(t testing.TB, dir string, pkgs map[string]string) map[string]string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string]string{}
	for _, n := range names {
		bin := filepath.Join(dir, n)
		args := []string{"build", "-o", bin}
		if Race {
			args = append(args, "-race")
		}
		cmd := exec.Command(goBin, append(args, pkgs[n])...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("fleet: go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, b)
		}
		out[n] = bin
	}
	return out
}

// buffer is an io.Writer safe for the process's output goroutines and
// the test reading it.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Proc is a process started by Start.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	out  buffer
	done chan struct{}
	code int
}

// Start starts bin with args and env added to the test's environment. The
// process is killed at the test's cleanup if it still runs.
func Start(t testing.TB, name string, env []string, bin string, args ...string) *Proc {
	t.Helper()
	p := &Proc{Name: name, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = environ(env)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("fleet: start %s: %v", name, err)
	}
	go func() {
		p.code = exitCode(p.cmd.Wait())
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Exited reports whether the process has ended, and its exit code.
func (p *Proc) Exited() (bool, int) {
	select {
	case <-p.done:
		return true, p.code
	default:
		return false, 0
	}
}

// Wait waits for the process to end and returns its exit code.
func (p *Proc) Wait() int {
	<-p.done
	return p.code
}

// Stop sends SIGTERM, as an orchestrator stopping an instance does, and
// returns the exit code.
func (p *Proc) Stop(t testing.TB) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatalf("fleet: SIGTERM %s: %v", p.Name, err)
	}
	return p.Wait()
}

// PID returns the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Output returns what the process wrote to stdout and stderr so far.
func (p *Proc) Output() string { return p.out.String() }

// Result is the outcome of a command run with Run.
type Result struct {
	Code           int
	Stdout, Stderr string
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Run runs bin with args to its end.
func Run(t testing.TB, env []string, bin string, args ...string) Result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = environ(env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("fleet: run %s: %v", filepath.Base(bin), err)
	}
	return Result{Code: exitCode(err), Stdout: stdout.String(), Stderr: stderr.String()}
}

// environ is the test's environment with env added. A binary built with
// the race detector exits with code 66 after reporting a race; it is told
// not to linger a second at exit, as it does by default.
func environ(env []string) []string {
	out := append(os.Environ(), env...)
	if _, set := os.LookupEnv("GORACE"); Race && !set {
		out = append(out, "GORACE=atexit_sleep_ms=0")
	}
	return out
}

func exitCode(err error) int {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.ExitCode()
	}
	return -1
}
