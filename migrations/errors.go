package migrations

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tandemdb/tandem/internal/dblock"
	"github.com/tandemdb/tandem/internal/dialect"
	"github.com/tandemdb/tandem/versions"
)

// Exit codes, stable and shared by every command of the CLI.
const (
	ExitOK              = 0 // success; nothing pending
	ExitError           = 1 // failed migration, connection failure, bad input
	ExitUsage           = 2 // usage error
	ExitExpandPending   = 3 // expand pending
	ExitMigratePending  = 4 // migrate pending
	ExitWaitingFlag     = 5 // waiting for the ready-for-contract flag
	ExitContractPending = 6 // contract pending
	ExitBlocked         = 7 // a lock timeout or a refusal of a safety gate
	ExitMoreWork        = 8 // stopped with more work remaining
)

// Sentinel errors callers branch on.
var (
	ErrBadSource        = errors.New("migrations: malformed migration source")
	ErrChecksumMismatch = errors.New("migrations: an applied migration was edited")
	ErrOutOfOrder       = errors.New("migrations: phase out of order")
	ErrFlagNotSet       = errors.New("migrations: ready-for-contract flag not set")
	ErrGateRefused      = errors.New("migrations: contract refused by the safety gate")
	ErrUnknownRelease   = errors.New("migrations: unknown release")
	ErrFailed           = errors.New("migrations: migration failed")
	ErrAlreadyManaged   = errors.New("migrations: database already has a migration history")
	ErrMoreWork         = errors.New("migrations: stopped with more work remaining")
)

// ChecksumError lists the applied migrations whose content changed.
type ChecksumError struct {
	Changed []ChecksumChange
}

// ChecksumChange is one edited migration.
type ChecksumChange struct {
	ID       versions.MigrationID
	File     string
	Recorded string
	Current  string
}

// Error implements error.
func (e *ChecksumError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "migrations: %d applied migration(s) changed since they ran:", len(e.Changed))
	for _, c := range e.Changed {
		fmt.Fprintf(&b, "\n  %s (%s): recorded %s, now %s", c.ID, c.File, short(c.Recorded), short(c.Current))
	}
	b.WriteString("\nhint: an applied migration is never edited; restore the file, or run 'tandem repair' to accept the new content")
	return b.String()
}

// Is makes errors.Is(err, ErrChecksumMismatch) true.
func (e *ChecksumError) Is(target error) bool { return target == ErrChecksumMismatch }

func short(sum string) string {
	if i := strings.IndexByte(sum, ':'); i >= 0 && len(sum) > i+13 {
		return sum[:i+13]
	}
	return sum
}

// OrderError refuses a phase whose prerequisites are pending.
type OrderError struct {
	Phase   versions.Phase
	Release versions.Version
	Pending []versions.MigrationID // what must run first
	Need    versions.Phase         // the phase that must run first
	Code    int                    // the exit code of what is pending
}

// Error implements error.
func (e *OrderError) Error() string {
	ids := make([]string, len(e.Pending))
	for i, id := range e.Pending {
		ids[i] = id.String()
	}
	return fmt.Sprintf("migrations: %s of %s refused: %s pending (%s)\nhint: run 'tandem %s --release %s' first",
		e.Phase, e.Release, e.Need, strings.Join(ids, ", "), e.Need, e.Release)
}

// Is makes errors.Is(err, ErrOutOfOrder) true.
func (e *OrderError) Is(target error) bool { return target == ErrOutOfOrder }

// FlagError refuses a contract whose release is not contract-ready.
type FlagError struct {
	Release versions.Version
	State   versions.State
}

// Error implements error.
func (e *FlagError) Error() string {
	return fmt.Sprintf("migrations: contract of %s refused: its state is %s, not contract-ready\nhint: when no instance older than %s runs, run 'tandem flag set --release %s contract-ready'",
		e.Release, e.State, e.Release, e.Release)
}

// Is makes errors.Is(err, ErrFlagNotSet) true.
func (e *FlagError) Is(target error) bool { return target == ErrFlagNotSet }

// MigrationError reports a migration that failed.
type MigrationError struct {
	ID        versions.MigrationID
	File      string
	Statement int // 1-based statement that failed (0 for a Go migration)
	Line      int // line of that statement in the file
	Err       error
	Partial   bool  // statements before the failing one were committed (MySQL, no-transaction files)
	RecordErr error // recording the failure in the history failed too (the connection was lost)
}

// Error implements error.
func (e *MigrationError) Error() string {
	where := e.ID.String()
	if e.File != "" {
		where += " (" + e.File
		if e.Line > 0 {
			where += fmt.Sprintf(":%d", e.Line)
		}
		where += ")"
	}
	if e.Statement > 0 {
		where += fmt.Sprintf(", statement %d", e.Statement)
	}
	hint := "nothing of it was kept; fix the migration and run again"
	lost := dialect.ConnectionLost(e.Err)
	switch {
	case lost && e.Partial:
		hint = fmt.Sprintf("the connection to the database was lost (server down or restarting, session killed, network); statements before %d were committed; when the server answers again, run the same command again: it resumes at statement %d", e.Statement, e.Statement)
	case lost:
		hint = "the connection to the database was lost (server down or restarting, session killed, network); nothing of it was kept; when the server answers again, run the same command again"
	case e.Partial:
		hint = fmt.Sprintf("statements before %d were committed (the dialect commits DDL at once); fix the failing statement, run 'tandem repair' if you edited the file, and run again: it resumes at statement %d", e.Statement, e.Statement)
	}
	msg := fmt.Sprintf("migrations: %s failed: %v", where, e.Err)
	if e.RecordErr != nil {
		msg += fmt.Sprintf("\n(the failure could not be recorded in the history either: %v)", e.RecordErr)
	}
	return msg + "\nhint: " + hint
}

// Unwrap returns the database error.
func (e *MigrationError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrFailed) true.
func (e *MigrationError) Is(target error) bool { return target == ErrFailed }

// ExitCode maps an error returned by this package to the CLI's exit code.
func ExitCode(err error) int {
	var oe *OrderError
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrGateRefused):
		return ExitBlocked
	case errors.As(err, &oe):
		return oe.Code
	case errors.Is(err, ErrMoreWork):
		return ExitMoreWork
	case errors.Is(err, dblock.ErrLockTimeout), errors.Is(err, ErrGateRefused), errors.Is(err, ErrFlagNotSet):
		return ExitBlocked
	default:
		var be *dblock.DDLBlockedError
		if errors.As(err, &be) {
			return ExitBlocked
		}
		return ExitError
	}
}
