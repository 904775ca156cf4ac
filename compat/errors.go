package compat

import (
	"errors"
	"fmt"

	"github.com/tandemdb/tandem/versions"
)

// Sentinel errors callers branch on.
var (
	// ErrExpandNotApplied: this binary's release has not been expanded.
	ErrExpandNotApplied = errors.New("compat: this release's expand is not applied")
	// ErrTooOld: a newer release has reached contract-ready or contracted.
	ErrTooOld = errors.New("compat: this binary is too old for this database")
	// ErrDeprecatedField: a deprecated column was named while it is hidden.
	ErrDeprecatedField = errors.New("compat: deprecated field used after the ready-for-contract flag")
	// ErrUnconvertibleUpdate: a partial write of transitional columns that
	// the converters cannot follow: an update with no primary key to read
	// the rest of the row by (or whose conditions reach other rows through
	// a top-level Or), a value set by an SQL expression, a map key that
	// names the column's table, or an upsert that assigns only some of them.
	// Its message says which.
	ErrUnconvertibleUpdate = errors.New("compat: this update of transitional columns cannot be converted")
)

// GuardError is returned by Initialize when the start-up guard refuses this
// binary. It unwraps to ErrExpandNotApplied or ErrTooOld.
type GuardError struct {
	Release versions.Version // this binary's release
	Other   versions.Version // the newer release, for ErrTooOld
	State   versions.State   // the state that made the guard refuse
	Table   string           // for ErrRefillPending: a table with rows to refill
	// Next, for ErrTooOld when Other is not the next release after this
	// one: the release in between, whose deprecated columns Other's
	// instances do not write.
	Next versions.Version
	// Base, for ErrExpandNotApplied: the release whose fields this
	// binary's models carry (it declares none of its own), when it is that
	// release's expand that is missing.
	Base versions.Version
	Err  error
}

// Error implements error.
func (e *GuardError) Error() string {
	if errors.Is(e.Err, ErrRefillPending) {
		return fmt.Sprintf("compat: release %s cannot start: release %s was flipped back, and rows it wrote in %s(c) (table %s) still lack the values release %s reads\nhint: run 'tandem migrate --release %s' to refill them, then start this binary",
			e.Release, e.Other, e.Other, e.Table, e.Release, e.Other)
	}
	if errors.Is(e.Err, ErrTooOld) && !e.Next.IsZero() {
		return fmt.Sprintf("compat: release %s cannot start: release %s is %s, and its instances do not write the columns release %s deprecates, which this binary reads (this binary is too old for this database)\nhint: deploy release %s or later",
			e.Release, e.Other, e.State, e.Next, e.Next)
	}
	if errors.Is(e.Err, ErrTooOld) {
		return fmt.Sprintf("compat: release %s cannot start: release %s is %s, so its deprecated columns may be gone (this binary is too old for this database)\nhint: deploy release %s or later; to go back, flip %s back with 'tandem flag set --release %s migrating' before its contract (possible while no newer release's expand has begun)",
			e.Release, e.Other, e.State, e.Other, e.Other, e.Other)
	}
	if !e.Base.IsZero() {
		return fmt.Sprintf("compat: release %s cannot start: its models carry the fields of release %s, whose expand is not applied (state %s)\nhint: run 'tandem expand --release %s' first, or start with compat.WithStartTimeout to wait for it",
			e.Release, e.Base, e.State, e.Base)
	}
	return fmt.Sprintf("compat: release %s cannot start: its expand is not applied (state %s)\nhint: run 'tandem expand --release %s' first, or start with compat.WithStartTimeout to wait for it",
		e.Release, e.State, e.Release)
}

// Unwrap returns the sentinel.
func (e *GuardError) Unwrap() error { return e.Err }

// DeprecatedFieldError reports a deprecated field named in a query while
// the release is in L(c). No SQL was sent.
type DeprecatedFieldError struct {
	Model   string
	Field   string // Go field name
	Column  string
	Release versions.Version // the release that deprecated it
	Use     string           // where it was named: "Select", "Omit", "Where", "Order", "Pluck", "Updates"
}

// Error implements error.
func (e *DeprecatedFieldError) Error() string {
	return fmt.Sprintf("compat: %s.%s (column %s) is deprecated in %s and hidden since the ready-for-contract flag, but %s names it\nhint: stop using the field (its replacement carries the data), or flip back with 'tandem flag set --release %s migrating'",
		e.Model, e.Field, e.Column, e.Release, e.Use, e.Release)
}

// Unwrap returns ErrDeprecatedField.
func (e *DeprecatedFieldError) Unwrap() error { return ErrDeprecatedField }
