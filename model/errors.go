package model

import (
	"errors"
	"fmt"
)

// Sentinel errors for the ways a model declaration can be refused. A
// [*SpecError] unwraps to exactly one of them.
var (
	ErrUnknownTagKey         = errors.New("unknown tandem tag key")
	ErrMalformedTag          = errors.New("malformed tandem tag")
	ErrBadVersion            = errors.New("malformed release in tandem tag")
	ErrDeprecatedBeforeAdded = errors.New("field deprecated at or before the release that adds it")
	ErrTagOnPrimaryKey       = errors.New("tandem tag on a primary key")
	ErrTagOnStamp            = errors.New("tandem tag on the stamp column")
	ErrNoStamp               = errors.New("transitional fields on a model without model.Stamp")
	ErrAddedNotNull          = errors.New("added field is NOT NULL without a default")
	ErrBadStamp              = errors.New("obj_version column is not an int64")
	ErrNotAModel             = errors.New("not a GORM model")
	ErrConflict              = errors.New("two specs for one table")
)

// SpecError reports a model declaration tandem refuses. Model is the Go type
// name, Field the Go field name (empty when the model as a whole is at fault).
type SpecError struct {
	Model  string
	Field  string
	Err    error  // one of the sentinel errors above
	Detail string // the offending text and what to do about it
}

// Error implements error.
func (e *SpecError) Error() string {
	where := e.Model
	if e.Field != "" {
		where += "." + e.Field
	}
	if e.Detail == "" {
		return fmt.Sprintf("model %s: %v", where, e.Err)
	}
	return fmt.Sprintf("model %s: %v: %s", where, e.Err, e.Detail)
}

// Unwrap returns the sentinel error.
func (e *SpecError) Unwrap() error { return e.Err }
