package model

import (
	"fmt"
	"strings"

	"github.com/tandemdb/tandem/versions"
)

// TagName is the struct tag tandem reads.
const TagName = "tandem"

// Lifecycle says in which releases a field appears and disappears. A zero
// Version means "not set".
type Lifecycle struct {
	Added      versions.Version
	Deprecated versions.Version
}

// IsZero reports whether the field is not transitional.
func (l Lifecycle) IsZero() bool { return l.Added.IsZero() && l.Deprecated.IsZero() }

// String formats the lifecycle in tag syntax.
func (l Lifecycle) String() string {
	var parts []string
	if !l.Added.IsZero() {
		parts = append(parts, "added="+l.Added.String())
	}
	if !l.Deprecated.IsZero() {
		parts = append(parts, "deprecated="+l.Deprecated.String())
	}
	return strings.Join(parts, ",")
}

// tagError is a parse failure before the model and field are known.
type tagError struct {
	err    error
	detail string
}

// ParseTag parses the value of a `tandem:"..."` tag. The error, if any,
// unwraps to ErrUnknownTagKey, ErrMalformedTag, ErrBadVersion or
// ErrDeprecatedBeforeAdded.
func ParseTag(tag string) (Lifecycle, error) {
	l, te := parseTag(tag)
	if te != nil {
		return Lifecycle{}, fmt.Errorf("%w: %s", te.err, te.detail)
	}
	return l, nil
}

func parseTag(tag string) (Lifecycle, *tagError) {
	var l Lifecycle
	if strings.TrimSpace(tag) == "" {
		return l, &tagError{ErrMalformedTag, fmt.Sprintf("empty tag %q (want added=R, deprecated=R or both, e.g. tandem:\"added=2.0\")", tag)}
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(tag, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" || val == "" {
			return l, &tagError{ErrMalformedTag, fmt.Sprintf("%q in tag %q is not key=release (e.g. tandem:\"deprecated=2.0\")", part, tag)}
		}
		if key != "added" && key != "deprecated" {
			return l, &tagError{ErrUnknownTagKey, fmt.Sprintf("%q in tag %q (known keys: added, deprecated)", key, tag)}
		}
		if seen[key] {
			return l, &tagError{ErrMalformedTag, fmt.Sprintf("key %q given twice in tag %q", key, tag)}
		}
		seen[key] = true
		v, err := versions.Parse(val)
		if err == nil && v.IsZero() {
			err = fmt.Errorf("release 0.0 is reserved for rows written before tandem")
		}
		if err != nil {
			return l, &tagError{ErrBadVersion, fmt.Sprintf("%s=%q in tag %q: %v", key, val, tag, err)}
		}
		if key == "added" {
			l.Added = v
		} else {
			l.Deprecated = v
		}
	}
	if !l.Added.IsZero() && !l.Deprecated.IsZero() && !l.Added.Less(l.Deprecated) {
		return l, &tagError{ErrDeprecatedBeforeAdded, fmt.Sprintf("deprecated=%s is not after added=%s in tag %q", l.Deprecated, l.Added, tag)}
	}
	return l, nil
}
