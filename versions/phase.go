package versions

import (
	"fmt"
	"strconv"
)

// Phase is a step of a release's schema change. Phases sort in protocol
// order: baseline first, then expand, migrate and contract.
type Phase int

// The phases in protocol order. PhaseBaseline is the full schema of a
// release for a fresh install; it is not part of an upgrade.
const (
	PhaseBaseline Phase = iota
	PhaseExpand
	PhaseMigrate
	PhaseContract
)

var phaseNames = [...]string{
	PhaseBaseline: "baseline",
	PhaseExpand:   "expand",
	PhaseMigrate:  "migrate",
	PhaseContract: "contract",
}

// Phases returns the upgrade phases in protocol order: expand, migrate,
// contract. The result is a fresh slice the caller may modify.
func Phases() []Phase { return []Phase{PhaseExpand, PhaseMigrate, PhaseContract} }

// ParsePhase reads "expand", "migrate", "contract" or "baseline". Anything
// else is a *ParseError matching ErrInvalid.
func ParsePhase(s string) (Phase, error) {
	for p, name := range phaseNames {
		if s == name {
			return Phase(p), nil
		}
	}
	return 0, &ParseError{Kind: KindPhase, Input: s, Reason: "want expand, migrate, contract or baseline"}
}

// Valid reports whether p is one of the declared phases.
func (p Phase) Valid() bool { return p >= PhaseBaseline && p <= PhaseContract }

// String returns the phase's name as ParsePhase reads it, or "Phase(N)" for
// an undeclared value.
func (p Phase) String() string {
	if !p.Valid() {
		return "Phase(" + strconv.Itoa(int(p)) + ")"
	}
	return phaseNames[p]
}

// MarshalText encodes p by name.
func (p Phase) MarshalText() ([]byte, error) {
	if !p.Valid() {
		return nil, fmt.Errorf("versions: cannot encode undeclared %s", p)
	}
	return []byte(p.String()), nil
}

// UnmarshalText parses text with ParsePhase.
func (p *Phase) UnmarshalText(text []byte) error {
	q, err := ParsePhase(string(text))
	if err != nil {
		return err
	}
	*p = q
	return nil
}
