package versions_test

import (
	"encoding/json"
	"errors"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/versions"
)

func id(release string, phase versions.Phase, seq int) versions.MigrationID {
	return versions.MigrationID{Release: versions.MustParse(release), Phase: phase, Seq: seq}
}

func TestParseMigrationID(t *testing.T) {
	tests := []struct {
		in   string
		want versions.MigrationID
		str  string
	}{
		{"2.0_expand01", id("2.0", versions.PhaseExpand, 1), "2.0_expand01"},
		{"2.0.1_migrate12", id("2.0.1", versions.PhaseMigrate, 12), "2.0.1_migrate12"},
		{"2.0_contract01", id("2.0", versions.PhaseContract, 1), "2.0_contract01"},
		{"2.0_baseline", id("2.0", versions.PhaseBaseline, 0), "2.0_baseline"},
		{"2.0_expand123", id("2.0", versions.PhaseExpand, 123), "2.0_expand123"},
		{"2.0_expand999", id("2.0", versions.PhaseExpand, 999), "2.0_expand999"},
		{"2.0_expand10", id("2.0", versions.PhaseExpand, 10), "2.0_expand10"},
		{"2.0.0_expand01", id("2.0", versions.PhaseExpand, 1), "2.0_expand01"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := versions.ParseMigrationID(tt.in)
			if err != nil {
				t.Fatalf("ParseMigrationID(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseMigrationID(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Fatalf("String() = %q, want %q", s, tt.str)
			}
		})
	}
}

func TestParseMigrationIDInvalid(t *testing.T) {
	tests := []struct {
		in, reason string
	}{
		{"", `missing "_<phase>"`},
		{"2.0", `missing "_<phase>"`},
		{"2.0_expand1", `"1" needs at least two digits; write 01`},
		{"2.0_expand00", `"00" is out of range 01..999`},
		{"2.0_expand000", `"000" is out of range`},
		{"2.0_expand001", `"001" has extra leading zeros; write 01`},
		{"2.0_expand1000", `"1000" is out of range 01..999`},
		{"2.0_expand99999999999999999999999", "is out of range"},
		{"2.0_expand", "sequence number is missing"},
		{"2.0_shrink01", `unknown phase "shrink"`},
		{"2.0_01", `unknown phase ""`},
		{"2.0_Expand01", `unknown phase "Expand"`},
		{"2.0_expand01x", `trailing "x"`},
		{"2.0_expand01_add_name", `trailing "_add_name"`},
		{"2.0_expand01.sql", `trailing ".sql"`},
		{"2.0_baseline01", "a baseline has no sequence number; write \"2.0_baseline\""},
		{"2.x_expand01", `release "2.x": minor component "x" is not a number`},
		{"v2.0_expand01", `release "v2.0": has a leading "v"`},
		{"_expand01", `release "": empty`},
		{"2.0__expand01", `unknown phase ""`},
		{" 2.0_expand01", "whitespace"},
		{"2.0_expand01 ", `trailing " "`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := versions.ParseMigrationID(tt.in)
			var pe *versions.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseMigrationID(%q) error = %v, want *ParseError", tt.in, err)
			}
			if !errors.Is(err, versions.ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			if pe.Kind != "migration id" || pe.Input != tt.in {
				t.Errorf("Kind, Input = %q, %q; want %q, %q", pe.Kind, pe.Input, "migration id", tt.in)
			}
			if !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("Reason = %q, want it to contain %q", pe.Reason, tt.reason)
			}
		})
	}
}

func TestCutMigrationID(t *testing.T) {
	tests := []struct {
		name string
		want versions.MigrationID
		rest string
		bad  bool
	}{
		{name: "2.0_expand01_add_given_name.sql", want: id("2.0", versions.PhaseExpand, 1), rest: "_add_given_name.sql"},
		{name: "2.0_contract01_drop_name.postgres.sql", want: id("2.0", versions.PhaseContract, 1), rest: "_drop_name.postgres.sql"},
		{name: "2.0_baseline.sql", want: id("2.0", versions.PhaseBaseline, 0), rest: ".sql"},
		{name: "2.0.1_migrate03", want: id("2.0.1", versions.PhaseMigrate, 3)},
		{name: "2.0_expand01x.sql", bad: true},
		{name: "2.0_expand1_add.sql", bad: true},
		{name: "2.0_baselinex.sql", bad: true},
		{name: "readme.md", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rest, err := versions.CutMigrationID(tt.name)
			if tt.bad {
				var pe *versions.ParseError
				if !errors.As(err, &pe) || pe.Input != tt.name {
					t.Fatalf("CutMigrationID(%q) error = %v, want *ParseError with Input %q", tt.name, err, tt.name)
				}
				return
			}
			if err != nil || got != tt.want || rest != tt.rest {
				t.Fatalf("CutMigrationID(%q) = %v, %q, %v; want %v, %q", tt.name, got, rest, err, tt.want, tt.rest)
			}
		})
	}
}

func TestMigrationIDOrder(t *testing.T) {
	// want is in ascending order.
	want := []versions.MigrationID{
		{},
		id("1.9", versions.PhaseContract, 999),
		id("2.0", versions.PhaseBaseline, 0),
		id("2.0", versions.PhaseExpand, 1),
		id("2.0", versions.PhaseExpand, 2),
		id("2.0", versions.PhaseExpand, 10),
		id("2.0", versions.PhaseMigrate, 1),
		id("2.0", versions.PhaseContract, 1),
		id("2.0", versions.PhaseContract, 100),
		id("2.0.1", versions.PhaseBaseline, 0),
		id("2.0.1", versions.PhaseExpand, 1),
		id("2.1", versions.PhaseExpand, 1),
		id("10.0", versions.PhaseExpand, 1),
	}
	for i := range want {
		for j := range want {
			wantCmp := 0
			switch {
			case i < j:
				wantCmp = -1
			case i > j:
				wantCmp = 1
			}
			if got := want[i].Compare(want[j]); got != wantCmp {
				t.Errorf("%v.Compare(%v) = %d, want %d", want[i], want[j], got, wantCmp)
			}
			if got := want[i].Less(want[j]); got != (i < j) {
				t.Errorf("%v.Less(%v) = %v, want %v", want[i], want[j], got, i < j)
			}
		}
	}
	r := rand.New(rand.NewSource(7))
	for range 20 {
		got := slices.Clone(want)
		r.Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
		versions.SortMigrationIDs(got)
		if !slices.Equal(got, want) {
			t.Fatalf("SortMigrationIDs = %v, want %v", got, want)
		}
	}
}

func TestMigrationIDIsZero(t *testing.T) {
	tests := []struct {
		id   versions.MigrationID
		want bool
	}{
		{versions.MigrationID{}, true},
		{id("0.0", versions.PhaseExpand, 1), false},
		{id("2.0", versions.PhaseBaseline, 0), false},
	}
	for _, tt := range tests {
		if got := tt.id.IsZero(); got != tt.want {
			t.Errorf("%v.IsZero() = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestPhases(t *testing.T) {
	want := []versions.Phase{versions.PhaseExpand, versions.PhaseMigrate, versions.PhaseContract}
	if got := versions.Phases(); !slices.Equal(got, want) {
		t.Fatalf("Phases() = %v, want %v", got, want)
	}
	if !(versions.PhaseBaseline < versions.PhaseExpand && versions.PhaseExpand < versions.PhaseMigrate && versions.PhaseMigrate < versions.PhaseContract) {
		t.Fatal("phases are not in protocol order")
	}
	for _, p := range append(versions.Phases(), versions.PhaseBaseline) {
		got, err := versions.ParsePhase(p.String())
		if err != nil || got != p {
			t.Errorf("ParsePhase(%q) = %v, %v; want %v", p.String(), got, err, p)
		}
	}
	if got := versions.Phase(9).String(); got != "Phase(9)" {
		t.Errorf("Phase(9).String() = %q", got)
	}
}

func TestParsePhaseInvalid(t *testing.T) {
	for _, in := range []string{"", "Expand", "expand ", "shrink", "expand01", "Phase(1)"} {
		_, err := versions.ParsePhase(in)
		var pe *versions.ParseError
		if !errors.As(err, &pe) || pe.Kind != "phase" || pe.Input != in || !errors.Is(err, versions.ErrInvalid) {
			t.Errorf("ParsePhase(%q) error = %v, want *ParseError{Kind: phase, Input: %q}", in, err, in)
		}
	}
}

func TestMigrationIDText(t *testing.T) {
	type applied struct {
		ID    versions.MigrationID `json:"id"`
		Phase versions.Phase       `json:"phase"`
	}
	in := applied{ID: id("2.0", versions.PhaseMigrate, 3), Phase: versions.PhaseMigrate}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"id":"2.0_migrate03","phase":"migrate"}` {
		t.Fatalf("json = %s", b)
	}
	var got applied
	if err := json.Unmarshal(b, &got); err != nil || got != in {
		t.Fatalf("Unmarshal(%s) = %v, %v", b, got, err)
	}
	if _, err := json.Marshal(applied{Phase: versions.Phase(7)}); err == nil {
		t.Fatal("Marshal of an undeclared phase succeeded")
	}
	if err := json.Unmarshal([]byte(`{"id":"2.0_expand1"}`), &got); !errors.Is(err, versions.ErrInvalid) {
		t.Fatalf("Unmarshal of a bad id: error = %v, want ErrInvalid", err)
	}
	if err := json.Unmarshal([]byte(`{"phase":"shrink"}`), &got); !errors.Is(err, versions.ErrInvalid) {
		t.Fatalf("Unmarshal of a bad phase: error = %v, want ErrInvalid", err)
	}
}
