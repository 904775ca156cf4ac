package versions_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/versions"
)

func TestParseState(t *testing.T) {
	tests := []struct {
		in   string
		want versions.State
	}{
		{"pending", versions.StatePending},
		{"expanding", versions.StateExpanding},
		{"expanded", versions.StateExpanded},
		{"contract-ready", versions.StateContractReady},
		{"contracted", versions.StateContracted},
		{"migrating", versions.StateExpanded},
		{"dual-model", versions.StateExpanded},
	}
	for _, tt := range tests {
		got, err := versions.ParseState(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseState(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseStateInvalid(t *testing.T) {
	for _, in := range []string{"", "Expanded", " expanded", "contract_ready", "ready", "L(c)", "contracting"} {
		_, err := versions.ParseState(in)
		var pe *versions.ParseError
		if !errors.As(err, &pe) || pe.Kind != "state" || pe.Input != in || !errors.Is(err, versions.ErrInvalid) {
			t.Errorf("ParseState(%q) error = %v, want *ParseError{Kind: state, Input: %q}", in, err, in)
			continue
		}
		if !strings.Contains(pe.Reason, "contract-ready") {
			t.Errorf("Reason = %q does not list the states", pe.Reason)
		}
	}
}

func TestStatesRoundTrip(t *testing.T) {
	for _, s := range versions.States() {
		got, err := versions.ParseState(s.String())
		if err != nil || got != s {
			t.Errorf("ParseState(%q) = %q, %v", s, got, err)
		}
		if !s.Valid() {
			t.Errorf("%q.Valid() = false", s)
		}
	}
	if versions.State("migrating").Valid() {
		t.Error(`State("migrating").Valid() = true; aliases are not states`)
	}
}

func TestMode(t *testing.T) {
	tests := []struct {
		s    versions.State
		want string
	}{
		{versions.StatePending, ""},
		{versions.StateExpanding, ""},
		{versions.StateExpanded, "L(m)"},
		{versions.StateContractReady, "L(c)"},
		{versions.StateContracted, ""},
		{versions.State("bogus"), ""},
	}
	for _, tt := range tests {
		if got := tt.s.Mode(); got != tt.want {
			t.Errorf("%q.Mode() = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestTransitions(t *testing.T) {
	legal := map[[2]versions.State]bool{
		{versions.StatePending, versions.StateExpanding}:        true,
		{versions.StateExpanding, versions.StateExpanded}:       true,
		{versions.StateExpanded, versions.StateContractReady}:   true,
		{versions.StateContractReady, versions.StateContracted}: true,
		{versions.StateContractReady, versions.StateExpanded}:   true,
	}
	release := versions.MustParse("2.0")
	all := append(versions.States(), "bogus")
	for _, from := range all {
		for _, to := range all {
			want := legal[[2]versions.State{from, to}]
			if got := versions.CanTransition(from, to); got != want {
				t.Errorf("CanTransition(%q, %q) = %v, want %v", from, to, got, want)
			}
			err := versions.Transition(release, from, to)
			if want || from == to {
				if err != nil {
					t.Errorf("Transition(%q, %q) = %v, want nil", from, to, err)
				}
				continue
			}
			var te *versions.TransitionError
			if !errors.As(err, &te) || !errors.Is(err, versions.ErrIllegalTransition) {
				t.Errorf("Transition(%q, %q) = %v, want *TransitionError", from, to, err)
				continue
			}
			if te.Release != release || te.From != from || te.To != to {
				t.Errorf("TransitionError = %+v, want {%v %q %q}", *te, release, from, to)
			}
		}
	}
}

func TestIllegalTransitions(t *testing.T) {
	tests := []struct {
		from, to versions.State
		hint     string
	}{
		{versions.StatePending, versions.StateExpanded, "from pending it may only go to expanding"},
		{versions.StatePending, versions.StateContracted, "from pending it may only go to expanding"},
		{versions.StateExpanding, versions.StatePending, "from expanding it may only go to expanded"},
		{versions.StateExpanded, versions.StateContracted, "from expanded it may only go to contract-ready"},
		{versions.StateExpanded, versions.StateExpanding, "from expanded it may only go to contract-ready"},
		{versions.StateContractReady, versions.StatePending, "from contract-ready it may only go to contracted, expanded"},
		{versions.StateContracted, versions.StateExpanded, "contracted is final"},
		{versions.StateContracted, versions.StateContractReady, "contracted is final"},
		{"bogus", versions.StateExpanded, `"bogus" is not a release state`},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"->"+string(tt.to), func(t *testing.T) {
			err := versions.Transition(versions.MustParse("2.0.1"), tt.from, tt.to)
			if err == nil {
				t.Fatal("Transition = nil, want an error")
			}
			msg := err.Error()
			for _, want := range []string{"release 2.0.1", `"` + string(tt.from) + `"`, `"` + string(tt.to) + `"`, tt.hint} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not contain %q", msg, want)
				}
			}
		})
	}
}

func TestTransitionErrorMessage(t *testing.T) {
	err := versions.Transition(versions.MustParse("2.0"), versions.StateExpanded, versions.StateContracted)
	want := `versions: release 2.0 cannot go from "expanded" to "contracted": from expanded it may only go to contract-ready`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
}

func TestNextStates(t *testing.T) {
	tests := []struct {
		from versions.State
		want []versions.State
	}{
		{versions.StatePending, []versions.State{versions.StateExpanding}},
		{versions.StateContractReady, []versions.State{versions.StateContracted, versions.StateExpanded}},
		{versions.StateContracted, nil},
		{"bogus", nil},
	}
	for _, tt := range tests {
		got := versions.NextStates(tt.from)
		if !slices.Equal(got, tt.want) {
			t.Errorf("NextStates(%q) = %v, want %v", tt.from, got, tt.want)
		}
		for _, to := range got {
			if !versions.CanTransition(tt.from, to) {
				t.Errorf("NextStates(%q) lists %q but CanTransition says no", tt.from, to)
			}
		}
	}
	// The result is the caller's to modify.
	versions.NextStates(versions.StatePending)[0] = versions.StateContracted
	if !versions.CanTransition(versions.StatePending, versions.StateExpanding) {
		t.Fatal("modifying NextStates' result changed the state machine")
	}
}
