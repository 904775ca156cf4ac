package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// Environment variables that choose the tools, each a file path or a command
// name looked up in PATH. Unset or empty, the default names are looked up in
// PATH.
const (
	// EnvPGDump names pg_dump (default: pg_dump).
	EnvPGDump = "TANDEM_PG_DUMP"
	// EnvPGRestore names pg_restore (default: pg_restore).
	EnvPGRestore = "TANDEM_PG_RESTORE"
	// EnvMySQLDump names the MySQL/MariaDB dump tool (default: mariadb-dump,
	// then mysqldump).
	EnvMySQLDump = "TANDEM_MYSQLDUMP"
	// EnvMySQL names the MySQL/MariaDB command-line client Restore feeds the
	// dump to (default: mariadb, then mysql).
	EnvMySQL = "TANDEM_MYSQL"
)

// ErrToolMissing is matched (with errors.Is) by every *ToolMissingError.
var ErrToolMissing = errors.New("backup tool not found")

// ToolMissingError reports that the dialect's backup or restore tool could
// not be found.
type ToolMissingError struct {
	// Tool is the tool that was looked for, e.g. "pg_dump".
	Tool string
	// Path is the value of the environment variable that overrides the
	// tool, when it is set; "" when the tool was looked up in PATH.
	Path string
	// Env is that environment variable, e.g. "TANDEM_PG_DUMP".
	Env string
	// Hint says how to install or point at the tool.
	Hint string
}

// Error implements error.
func (e *ToolMissingError) Error() string {
	if e.Path != "" {
		return fmt.Sprintf("%s not found at %s (set by %s); %s", e.Tool, e.Path, e.Env, e.Hint)
	}
	return fmt.Sprintf("%s not found in PATH; %s", e.Tool, e.Hint)
}

// Is makes errors.Is(err, ErrToolMissing) true.
func (e *ToolMissingError) Is(target error) bool { return target == ErrToolMissing }

// ToolError reports a backup or restore tool that ran and failed. Its text
// carries what the tool wrote to stderr, with the password removed.
type ToolError struct {
	// Tool is the path of the tool that was run.
	Tool string
	// Stderr is the end of what the tool wrote to stderr, trimmed, with
	// every password replaced by "xxxxx".
	Stderr string
	// Hint says what to do, when the failure is a known one; else "".
	Hint string
	// Err is the error of the run: an *exec.ExitError, or the context's
	// error when the run was cancelled.
	Err error
}

// Error implements error.
func (e *ToolError) Error() string {
	msg := fmt.Sprintf("%s failed: %v", e.Tool, e.Err)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	if e.Hint != "" {
		msg += "; hint: " + e.Hint
	}
	return msg
}

// Unwrap returns the error of the run.
func (e *ToolError) Unwrap() error { return e.Err }

// toolSpec names a tool, the variable that overrides it and the hint given
// when it is missing.
type toolSpec struct {
	env   string
	names []string // tried in order in PATH
	hint  string
}

var (
	pgDumpTool = toolSpec{EnvPGDump, []string{"pg_dump"},
		"install postgresql-client (the same major version as the server or newer), or set " + EnvPGDump + " to the path of pg_dump"}
	pgRestoreTool = toolSpec{EnvPGRestore, []string{"pg_restore"},
		"install postgresql-client, or set " + EnvPGRestore + " to the path of pg_restore"}
	mysqlDumpTool = toolSpec{EnvMySQLDump, []string{"mariadb-dump", "mysqldump"},
		"install mariadb-client (or mysql-client), or set " + EnvMySQLDump + " to the path of mariadb-dump or mysqldump"}
	mysqlClientTool = toolSpec{EnvMySQL, []string{"mariadb", "mysql"},
		"install mariadb-client (or mysql-client), or set " + EnvMySQL + " to the path of mariadb or mysql"}
)

// look finds the tool: the override variable if set, else the first name
// found in PATH.
func (s toolSpec) look() (string, error) {
	if p := os.Getenv(s.env); p != "" {
		path, err := exec.LookPath(p)
		if err != nil {
			return "", &ToolMissingError{Tool: s.names[0], Path: p, Env: s.env,
				Hint: "point " + s.env + " at an executable " + s.names[0] + ", or unset it to search PATH"}
		}
		return path, nil
	}
	for _, n := range s.names {
		if path, err := exec.LookPath(n); err == nil {
			return path, nil
		}
	}
	tool := strings.Join(s.names, " or ")
	return "", &ToolMissingError{Tool: tool, Env: s.env, Hint: s.hint}
}

// maxStderr bounds the stderr kept from a tool run.
const maxStderr = 16 << 10

// invocation is one run of a tool.
type invocation struct {
	path    string
	args    []string
	env     []string // added to the process's environment
	stdin   io.Reader
	stdout  io.Writer
	secrets []string // scrubbed from stderr
	hints   func(stderr string) string
}

// run runs the tool and returns a *ToolError when it fails.
func (in invocation) run(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, in.path, in.args...)
	cmd.Env = append(os.Environ(), in.env...)
	cmd.Stdin = in.stdin
	cmd.Stdout = in.stdout
	var stderr tailBuffer
	cmd.Stderr = &stderr
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	text := scrub(strings.TrimSpace(stderr.String()), in.secrets...)
	te := &ToolError{Tool: in.path, Stderr: text, Err: err}
	if in.hints != nil {
		te.Hint = in.hints(text)
	}
	return te
}

// output runs the tool and returns its stdout; used for --version.
func (in invocation) output(ctx context.Context) (string, error) {
	var out bytes.Buffer
	in.stdout = &out
	if err := in.run(ctx); err != nil {
		return "", err
	}
	return out.String(), nil
}

// tailBuffer keeps the last maxStderr bytes written to it.
type tailBuffer struct {
	b   []byte
	cut bool
}

// Write implements io.Writer.
func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > maxStderr {
		t.b = append(t.b[:0], t.b[len(t.b)-maxStderr:]...)
		t.cut = true
	}
	return len(p), nil
}

// String returns the kept bytes, marked when the start was cut off.
func (t *tailBuffer) String() string {
	if t.cut {
		return "..." + string(t.b)
	}
	return string(t.b)
}

// redacted replaces every secret in a tool's stderr.
const redacted = "xxxxx"

// scrub replaces every non-empty secret in s by "xxxxx", longest first so
// that a secret containing another is hidden whole.
func scrub(s string, secrets ...string) string {
	sorted := slices.Clone(secrets)
	slices.SortFunc(sorted, func(a, b string) int { return len(b) - len(a) })
	for _, sec := range sorted {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return s
}
