package versions

import (
	"fmt"
	"strings"
)

// State is where a release stands in the expand / migrate / contract
// protocol. The flag an operator flips is the move between StateExpanded
// (L(m)) and StateContractReady (L(c)).
type State string

// The release states, in protocol order.
const (
	// StatePending: the release is known but none of its expand migrations ran.
	StatePending State = "pending"
	// StateExpanding: the release's expand migrations are being applied.
	StateExpanding State = "expanding"
	// StateExpanded: expand is done and the release runs in dual-model mode L(m).
	StateExpanded State = "expanded"
	// StateContractReady: the flag is flipped; the release runs in L(c).
	StateContractReady State = "contract-ready"
	// StateContracted: the release's contract migrations ran. Final.
	StateContracted State = "contracted"
)

// stateAliases are other names operators may type for a state.
var stateAliases = map[string]State{
	"migrating":  StateExpanded,
	"dual-model": StateExpanded,
}

// transitions lists the legal transitions out of each state.
var transitions = map[State][]State{
	StatePending:       {StateExpanding},
	StateExpanding:     {StateExpanded},
	StateExpanded:      {StateContractReady},
	StateContractReady: {StateContracted, StateExpanded},
	StateContracted:    nil,
}

// States returns every state in protocol order. The result is a fresh
// slice the caller may modify.
func States() []State {
	return []State{StatePending, StateExpanding, StateExpanded, StateContractReady, StateContracted}
}

// ParseState reads a state by name ("pending", "expanding", "expanded",
// "contract-ready", "contracted"). "migrating" and "dual-model" are accepted
// as aliases for StateExpanded. Anything else is a *ParseError matching
// ErrInvalid.
func ParseState(s string) (State, error) {
	if st := State(s); st.Valid() {
		return st, nil
	}
	if st, ok := stateAliases[s]; ok {
		return st, nil
	}
	return "", &ParseError{Kind: KindState, Input: s, Reason: "want one of " + joinStates(States()) + " (or migrating, dual-model for expanded)"}
}

// Valid reports whether s is one of the declared states.
func (s State) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// String returns the state's name.
func (s State) String() string { return string(s) }

// Mode returns "L(m)" for StateExpanded, "L(c)" for StateContractReady and
// "" for every other state, in which the compat layer has no mode.
func (s State) Mode() string {
	switch s {
	case StateExpanded:
		return "L(m)"
	case StateContractReady:
		return "L(c)"
	}
	return ""
}

// NextStates returns the states a release in state from may legally move
// to, in protocol order; none for StateContracted or an undeclared state.
// The result is a fresh slice the caller may modify.
func NextStates(from State) []State {
	return append([]State(nil), transitions[from]...)
}

// CanTransition reports whether a release may move from one state to
// another: pending to expanding, expanding to expanded, expanded to
// contract-ready, contract-ready to contracted, and contract-ready back to
// expanded (flipping the flag back). Staying in the same state is not a
// transition, and nothing leaves contracted.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Transition checks the move of release from one state to another. It
// returns nil when the move is legal or when from == to (nothing to do),
// and a *TransitionError matching ErrIllegalTransition otherwise.
func Transition(release Version, from, to State) error {
	if from == to || CanTransition(from, to) {
		return nil
	}
	return &TransitionError{Release: release, From: from, To: to}
}

// TransitionError reports an illegal move of a release between states.
type TransitionError struct {
	Release  Version
	From, To State
}

// Error names the release and both states and, as a hint, the states the
// release may move to instead.
func (e *TransitionError) Error() string {
	var hint string
	switch n := transitions[e.From]; {
	case !e.From.Valid():
		hint = fmt.Sprintf("%q is not a release state; want one of %s", e.From, joinStates(States()))
	case len(n) == 0:
		hint = "contracted is final; restore archived columns to go back"
	default:
		hint = "from " + string(e.From) + " it may only go to " + joinStates(n)
	}
	return fmt.Sprintf("versions: release %s cannot go from %q to %q: %s", e.Release, e.From, e.To, hint)
}

// Is reports whether target is ErrIllegalTransition.
func (e *TransitionError) Is(target error) bool { return target == ErrIllegalTransition }

func joinStates(states []State) string {
	names := make([]string, len(states))
	for i, s := range states {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}
