package versions

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// MaxSeq is the highest sequence number a migration of one phase may have.
const MaxSeq = 999

// MigrationID identifies a migration: "2.0_expand01", "2.0.1_migrate12",
// "2.0_contract01", or "2.0_baseline" (whose Seq is 0). IDs sort by
// release, then phase in protocol order, then Seq.
type MigrationID struct {
	Release Version
	Phase   Phase
	Seq     int
}

// idHint is appended to migration id parse errors.
const idHint = "(want <release>_<phase><NN>, e.g. 2.0_expand01, or <release>_baseline)"

// ParseMigrationID reads a migration id written as
// <release>_<phase><NN> or <release>_baseline. NN has at least two digits
// and is 01..999 with no more leading zeros than the two-digit padding.
// Errors are *ParseError and match ErrInvalid.
func ParseMigrationID(s string) (MigrationID, error) {
	id, rest, err := parseIDPrefix(s)
	if err != nil {
		return MigrationID{}, err
	}
	if rest != "" {
		return MigrationID{}, idError(s, "trailing %q after the id", rest)
	}
	return id, nil
}

// CutMigrationID reads the migration id at the start of a migration name such
// as "2.0_expand01_add_given_name.postgres.sql" and returns it with the rest
// of the name ("_add_given_name.postgres.sql"). The id must end the name or
// be followed by '_' or '.'. Errors are *ParseError and match ErrInvalid.
func CutMigrationID(name string) (id MigrationID, rest string, err error) {
	id, rest, err = parseIDPrefix(name)
	if err != nil {
		return MigrationID{}, "", err
	}
	if rest != "" && rest[0] != '_' && rest[0] != '.' {
		return MigrationID{}, "", idError(name, "%q follows the id; separate it with '_' or '.'", rest)
	}
	return id, rest, nil
}

// parseIDPrefix parses the release, phase and sequence number at the start
// of s and returns whatever follows them.
func parseIDPrefix(s string) (MigrationID, string, error) {
	sep := strings.IndexByte(s, '_')
	if sep < 0 {
		return MigrationID{}, "", idError(s, "missing \"_<phase>\" after the release")
	}
	release, err := Parse(s[:sep])
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return MigrationID{}, "", &ParseError{Kind: KindMigrationID, Input: s, Reason: fmt.Sprintf("release %q: %s", pe.Input, pe.Reason)}
		}
		return MigrationID{}, "", err
	}
	rest := s[sep+1:]
	n := 0
	for n < len(rest) && isLetter(rest[n]) {
		n++
	}
	name, rest := rest[:n], rest[n:]
	phase, err := ParsePhase(name)
	if err != nil {
		return MigrationID{}, "", idError(s, "unknown phase %q", name)
	}
	n = 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		n++
	}
	digits, rest := rest[:n], rest[n:]
	id := MigrationID{Release: release, Phase: phase}
	if phase == PhaseBaseline {
		if digits != "" {
			return MigrationID{}, "", idError(s, "a baseline has no sequence number; write %q", release.String()+"_baseline")
		}
		return id, rest, nil
	}
	seq, why := parseSeq(digits)
	if why != "" {
		return MigrationID{}, "", idError(s, "sequence number %s", why)
	}
	id.Seq = seq
	return id, rest, nil
}

// parseSeq parses a canonical sequence number; a non-empty second result
// says why digits is not one.
func parseSeq(digits string) (int, string) {
	switch {
	case digits == "":
		return 0, "is missing"
	case len(digits) < 2:
		return 0, fmt.Sprintf("%q needs at least two digits; write 0%s", digits, digits)
	case len(digits) > len(strconv.Itoa(MaxSeq)):
		return 0, fmt.Sprintf("%q is out of range 01..%d", digits, MaxSeq)
	}
	seq, _ := strconv.Atoi(digits) // only digits, at most three of them
	switch {
	case seq == 0:
		return 0, fmt.Sprintf("%q is out of range 01..%d", digits, MaxSeq)
	case len(digits) > 2 && digits[0] == '0':
		return 0, fmt.Sprintf("%q has extra leading zeros; write %02d", digits, seq)
	}
	return seq, ""
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func idError(input, format string, args ...any) *ParseError {
	return &ParseError{Kind: KindMigrationID, Input: input, Reason: fmt.Sprintf(format, args...) + " " + idHint}
}

// String formats id as ParseMigrationID reads it: "2.0_baseline" for a
// baseline, otherwise the sequence number zero-padded to at least two
// digits, as in "2.0_expand01" or "2.0_expand123".
func (id MigrationID) String() string {
	if id.Phase == PhaseBaseline {
		return id.Release.String() + "_baseline"
	}
	return fmt.Sprintf("%s_%s%02d", id.Release, id.Phase, id.Seq)
}

// Compare returns -1, 0 or +1 as id sorts before, with or after o: by
// release, then phase in protocol order (baseline, expand, migrate,
// contract), then sequence number.
func (id MigrationID) Compare(o MigrationID) int {
	if c := id.Release.Compare(o.Release); c != 0 {
		return c
	}
	switch {
	case id.Phase < o.Phase:
		return -1
	case id.Phase > o.Phase:
		return 1
	case id.Seq < o.Seq:
		return -1
	case id.Seq > o.Seq:
		return 1
	}
	return 0
}

// Less reports whether id sorts before o.
func (id MigrationID) Less(o MigrationID) bool { return id.Compare(o) < 0 }

// IsZero reports whether id is the zero MigrationID, which names no
// migration.
func (id MigrationID) IsZero() bool { return id == MigrationID{} }

// SortMigrationIDs sorts ids in place in the order of MigrationID.Compare.
func SortMigrationIDs(ids []MigrationID) {
	slices.SortFunc(ids, MigrationID.Compare)
}

// MarshalText encodes id as id.String().
func (id MigrationID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses text with ParseMigrationID.
func (id *MigrationID) UnmarshalText(text []byte) error {
	p, err := ParseMigrationID(string(text))
	if err != nil {
		return err
	}
	*id = p
	return nil
}
