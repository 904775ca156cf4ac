package versions

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a release MAJOR.MINOR[.PATCH], each component 0..65535. The
// zero Version (0.0) stands for "before tandem" when it appears as a stamp.
type Version struct{ Major, Minor, Patch uint16 }

// versionHint is appended to every version parse error.
const versionHint = "(want MAJOR.MINOR[.PATCH], e.g. 2.0 or 2.0.1)"

// Parse reads a version written as MAJOR.MINOR or MAJOR.MINOR.PATCH, each
// component a decimal number 0..65535 without sign, leading zeros or
// surrounding space. "2.0" and "2.0.0" parse to equal Versions. Errors are
// *ParseError and match ErrInvalid.
func Parse(s string) (Version, error) {
	reason := func(format string, args ...any) (Version, error) {
		return Version{}, &ParseError{Kind: KindVersion, Input: s, Reason: fmt.Sprintf(format, args...) + " " + versionHint}
	}
	switch {
	case s == "":
		return reason("empty string")
	case strings.TrimSpace(s) != s:
		return reason("leading or trailing whitespace")
	case s[0] == 'v' || s[0] == 'V':
		if _, err := Parse(s[1:]); err == nil {
			return reason("has a leading %q: drop it and write %q", s[:1], s[1:])
		}
		return reason("has a leading %q: drop it", s[:1])
	}
	if i := strings.IndexAny(s, "-+"); i > 0 {
		return reason("pre-release and build suffixes such as %q are not supported", s[i:])
	}
	parts := strings.Split(s, ".")
	switch {
	case len(parts) < 2:
		if _, why := parseComponent(s); why != "" {
			return reason("major component %s", why)
		}
		return reason("missing minor component")
	case len(parts) > 3:
		return reason("too many components (%d)", len(parts))
	}
	names := [...]string{"major", "minor", "patch"}
	var comps [3]uint16
	for i, p := range parts {
		n, why := parseComponent(p)
		if why != "" {
			return reason("%s component %s", names[i], why)
		}
		comps[i] = n
	}
	return Version{Major: comps[0], Minor: comps[1], Patch: comps[2]}, nil
}

// parseComponent parses one canonical decimal component; a non-empty second
// result says why p is not one.
func parseComponent(p string) (uint16, string) {
	if p == "" {
		return 0, "is empty"
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return 0, fmt.Sprintf("%q is not a number", p)
		}
	}
	if len(p) > 1 && p[0] == '0' {
		return 0, fmt.Sprintf("%q has a leading zero", p)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return 0, fmt.Sprintf("%s is out of range 0..65535", p)
	}
	return uint16(n), ""
}

// MustParse is like Parse but panics on malformed input. It is meant for
// tests and for registering migrations at start-up.
func MustParse(s string) Version {
	v, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

// String formats v as "2.0" when Patch is 0 and as "2.0.1" otherwise; the
// zero Version prints "0.0". Parse(v.String()) == v for every v.
func (v Version) String() string {
	if v.Patch == 0 {
		return fmt.Sprintf("%d.%d", v.Major, v.Minor)
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Compare returns -1 if v is before o, +1 if v is after o and 0 if they are
// the same release.
func (v Version) Compare(o Version) int {
	switch a, b := v.Stamp(), o.Stamp(); {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Less reports whether v is before o.
func (v Version) Less(o Version) bool { return v.Compare(o) < 0 }

// IsZero reports whether v is 0.0, the version of rows written before tandem.
func (v Version) IsZero() bool { return v == Version{} }

// MarshalText encodes v as v.String().
func (v Version) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText parses text with Parse.
func (v *Version) UnmarshalText(text []byte) error {
	p, err := Parse(string(text))
	if err != nil {
		return err
	}
	*v = p
	return nil
}
