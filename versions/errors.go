package versions

import (
	"errors"
	"fmt"
)

// ErrInvalid is matched by every *ParseError and *StampError, so callers can
// tell malformed input apart from other failures with errors.Is.
var ErrInvalid = errors.New("versions: invalid input")

// ErrIllegalTransition is matched by every *TransitionError.
var ErrIllegalTransition = errors.New("versions: illegal release state transition")

// Kinds of text a *ParseError can be about.
const (
	KindVersion     = "version"
	KindPhase       = "phase"
	KindMigrationID = "migration id"
	KindState       = "state"
)

// ParseError reports malformed input. Kind says what was being parsed
// ("version", "phase", "migration id" or "state"), Input is the offending
// text and Reason says what is wrong with it and what is expected instead.
type ParseError struct {
	Kind   string
	Input  string
	Reason string
}

// Error formats the error as `versions: invalid <kind> "<input>": <reason>`.
func (e *ParseError) Error() string {
	return fmt.Sprintf("versions: invalid %s %q: %s", e.Kind, e.Input, e.Reason)
}

// Is reports whether target is ErrInvalid.
func (e *ParseError) Is(target error) bool { return target == ErrInvalid }

// StampError reports an object-version stamp that no Version encodes: a
// negative number or one with bits above the encoded range.
type StampError struct {
	Stamp int64
}

// Error names the stamp and says why it cannot be decoded.
func (e *StampError) Error() string {
	reason := fmt.Sprintf("bits above bit %d are set", stampBits-1)
	if e.Stamp < 0 {
		reason = "stamps are never negative"
	}
	return fmt.Sprintf("versions: invalid object version stamp %d: %s (want 0 or a value written by Version.Stamp or Version.MarkedStamp)", e.Stamp, reason)
}

// Is reports whether target is ErrInvalid.
func (e *StampError) Is(target error) bool { return target == ErrInvalid }
