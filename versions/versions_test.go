package versions_test

import (
	"encoding/json"
	"errors"
	"math/rand"
	"strings"
	"testing"

	"github.com/tandemdb/tandem/versions"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want versions.Version
		str  string
	}{
		{"0.0", versions.Version{}, "0.0"},
		{"0.1", versions.Version{Minor: 1}, "0.1"},
		{"2.0", versions.Version{Major: 2}, "2.0"},
		{"2.0.0", versions.Version{Major: 2}, "2.0"},
		{"2.0.1", versions.Version{Major: 2, Patch: 1}, "2.0.1"},
		{"10.20.30", versions.Version{Major: 10, Minor: 20, Patch: 30}, "10.20.30"},
		{"65535.65535.65535", versions.Version{Major: 65535, Minor: 65535, Patch: 65535}, "65535.65535.65535"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := versions.Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Fatalf("String() = %q, want %q", s, tt.str)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		in, reason string // reason is a substring of the error's Reason
	}{
		{"", "empty"},
		{"2", "missing minor"},
		{"2.", "minor component is empty"},
		{".2", "major component is empty"},
		{"2.x", `minor component "x" is not a number`},
		{"1..2", "minor component is empty"},
		{"-1.0", `major component "-1" is not a number`},
		{"+1.0", `major component "+1" is not a number`},
		{"70000.0", "out of range 0..65535"},
		{"1.65536", "minor component 65536 is out of range"},
		{"1.2.99999999999999999999", "patch component 99999999999999999999 is out of range"},
		{" 2.0", "whitespace"},
		{"2.0 ", "whitespace"},
		{"2.0\n", "whitespace"},
		{"2.0.0.1", "too many components"},
		{"2.0-rc1", `"-rc1" are not supported`},
		{"2.0+build5", `"+build5" are not supported`},
		{"v2.0", `leading "v": drop it and write "2.0"`},
		{"V2.0.1", `leading "V": drop it and write "2.0.1"`},
		{"v", `leading "v": drop it`},
		{"02.0", `major component "02" has a leading zero`},
		{"2.00", `minor component "00" has a leading zero`},
		{"2.0.01", `patch component "01" has a leading zero`},
		{"2,0", `major component "2,0" is not a number`},
		{"２.0", "is not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := versions.Parse(tt.in)
			var pe *versions.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error = %v, want *ParseError", tt.in, err)
			}
			if !errors.Is(err, versions.ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			if pe.Kind != "version" || pe.Input != tt.in {
				t.Errorf("Kind, Input = %q, %q; want %q, %q", pe.Kind, pe.Input, "version", tt.in)
			}
			if !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("Reason = %q, want it to contain %q", pe.Reason, tt.reason)
			}
		})
	}
}

func TestParseErrorMessage(t *testing.T) {
	_, err := versions.Parse("2.x")
	want := `versions: invalid version "2.x": minor component "x" is not a number (want MAJOR.MINOR[.PATCH], e.g. 2.0 or 2.0.1)`
	if err == nil || err.Error() != want {
		t.Fatalf("Parse(\"2.x\") error = %v, want %s", err, want)
	}
}

func TestMustParse(t *testing.T) {
	if got := versions.MustParse("3.1.4"); got != (versions.Version{Major: 3, Minor: 1, Patch: 4}) {
		t.Fatalf("MustParse(3.1.4) = %v", got)
	}
	defer func() {
		err, _ := recover().(error)
		if !errors.Is(err, versions.ErrInvalid) {
			t.Fatalf("MustParse(bad) panicked with %v, want an ErrInvalid error", err)
		}
	}()
	versions.MustParse("bad")
	t.Fatal("MustParse(bad) did not panic")
}

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0.0", 0},
		{"1.0", "1.0.1", -1},
		{"1.0.1", "1.1", -1},
		{"1.65535.65535", "2.0", -1},
		{"2.10", "2.9", 1},
		{"10.0", "9.99", 1},
		{"0.0", "0.0.1", -1},
	}
	for _, tt := range tests {
		t.Run(tt.a+" vs "+tt.b, func(t *testing.T) {
			a, b := versions.MustParse(tt.a), versions.MustParse(tt.b)
			if got := a.Compare(b); got != tt.want {
				t.Errorf("Compare = %d, want %d", got, tt.want)
			}
			if got := b.Compare(a); got != -tt.want {
				t.Errorf("reverse Compare = %d, want %d", got, -tt.want)
			}
			if got := a.Less(b); got != (tt.want < 0) {
				t.Errorf("Less = %v, want %v", got, tt.want < 0)
			}
		})
	}
}

func TestIsZero(t *testing.T) {
	tests := []struct {
		v    versions.Version
		want bool
	}{
		{versions.Version{}, true},
		{versions.MustParse("0.0.0"), true},
		{versions.MustParse("0.0.1"), false},
		{versions.MustParse("1.0"), false},
	}
	for _, tt := range tests {
		if got := tt.v.IsZero(); got != tt.want {
			t.Errorf("%v.IsZero() = %v, want %v", tt.v, got, tt.want)
		}
	}
}

// randomVersion draws components from a mix of small values and the full
// range, so that neighbours and extremes both occur.
func randomVersion(r *rand.Rand) versions.Version {
	c := func() uint16 {
		switch r.Intn(3) {
		case 0:
			return uint16(r.Intn(3))
		case 1:
			return 65535 - uint16(r.Intn(2))
		}
		return uint16(r.Intn(65536))
	}
	return versions.Version{Major: c(), Minor: c(), Patch: c()}
}

// nextUp returns the smallest version after v and whether there is one.
func nextUp(v versions.Version) (versions.Version, bool) {
	switch {
	case v.Patch < 65535:
		v.Patch++
	case v.Minor < 65535:
		v.Minor, v.Patch = v.Minor+1, 0
	case v.Major < 65535:
		v.Major, v.Minor, v.Patch = v.Major+1, 0, 0
	default:
		return v, false
	}
	return v, true
}

func sign(n int64) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func TestVersionProperties(t *testing.T) {
	r := rand.New(rand.NewSource(20))
	for i := 0; i < 5000; i++ {
		a, b := randomVersion(r), randomVersion(r)
		if i%5 == 0 {
			b = a // equal pairs too
		}
		if got, err := versions.Parse(a.String()); err != nil || got != a {
			t.Fatalf("Parse(%q) = %v, %v; want %v", a.String(), got, err, a)
		}
		for _, stamp := range []int64{a.Stamp(), a.MarkedStamp()} {
			got, marked, err := versions.DecodeStamp(stamp)
			if err != nil || got != a || marked != (stamp == a.MarkedStamp()) {
				t.Fatalf("DecodeStamp(%d) = %v, %v, %v; want %v", stamp, got, marked, err, a)
			}
		}
		if a.Stamp()&versions.StampMarker != 0 {
			t.Fatalf("%v.Stamp() = %d has the marker bit set", a, a.Stamp())
		}
		if !a.IsZero() && a.Stamp() <= 0 {
			t.Fatalf("%v.Stamp() = %d, want > 0", a, a.Stamp())
		}
		if c, d := a.Compare(b), sign(a.Stamp()-b.Stamp()); c != d {
			t.Fatalf("%v.Compare(%v) = %d but stamps differ by sign %d", a, b, c, d)
		}
		if up, ok := nextUp(a); ok {
			if !(a.Stamp() < a.MarkedStamp() && a.MarkedStamp() < up.Stamp()) {
				t.Fatalf("stamps of %v (%d, marked %d) and %v (%d) are out of order", a, a.Stamp(), a.MarkedStamp(), up, up.Stamp())
			}
		}
	}
}

func TestDecodeStamp(t *testing.T) {
	tests := []struct {
		stamp  int64
		want   versions.Version
		marked bool
		bad    bool
	}{
		{stamp: 0},
		{stamp: 1, marked: true},
		{stamp: versions.MustParse("2.0").Stamp(), want: versions.MustParse("2.0")},
		{stamp: versions.MustParse("2.0.1").MarkedStamp(), want: versions.MustParse("2.0.1"), marked: true},
		{stamp: versions.MustParse("65535.65535.65535").MarkedStamp(), want: versions.MustParse("65535.65535.65535"), marked: true},
		{stamp: -1, bad: true},
		{stamp: -1 << 63, bad: true},
		{stamp: 1 << 49, bad: true},
		{stamp: 1<<62 | 2, bad: true},
		{stamp: 1<<63 - 1, bad: true},
	}
	for _, tt := range tests {
		v, marked, err := versions.DecodeStamp(tt.stamp)
		if tt.bad {
			var se *versions.StampError
			if !errors.As(err, &se) || se.Stamp != tt.stamp {
				t.Errorf("DecodeStamp(%d) error = %v, want *StampError{%d}", tt.stamp, err, tt.stamp)
			}
			if !errors.Is(err, versions.ErrInvalid) {
				t.Errorf("DecodeStamp(%d): errors.Is(ErrInvalid) = false", tt.stamp)
			}
			continue
		}
		if err != nil || v != tt.want || marked != tt.marked {
			t.Errorf("DecodeStamp(%d) = %v, %v, %v; want %v, %v, nil", tt.stamp, v, marked, err, tt.want, tt.marked)
		}
	}
}

func TestStampValues(t *testing.T) {
	// Stamps are stored in databases, so their values are part of the format.
	tests := []struct {
		v    string
		want int64
	}{
		{"0.0", 0},
		{"0.0.1", 2},
		{"0.1", 1 << 17},
		{"1.0", 1 << 33},
		{"2.0.1", 2<<33 | 1<<1},
		{"65535.65535.65535", 1<<49 - 2},
	}
	for _, tt := range tests {
		if got := versions.MustParse(tt.v).Stamp(); got != tt.want {
			t.Errorf("%s.Stamp() = %d, want %d", tt.v, got, tt.want)
		}
	}
}

func TestVersionText(t *testing.T) {
	type release struct {
		Version versions.Version `json:"version"`
	}
	b, err := json.Marshal(release{versions.MustParse("2.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"version":"2.0.1"}` {
		t.Fatalf("json = %s", b)
	}
	var got release
	if err := json.Unmarshal(b, &got); err != nil || got.Version != versions.MustParse("2.0.1") {
		t.Fatalf("Unmarshal(%s) = %v, %v", b, got, err)
	}
	err = json.Unmarshal([]byte(`{"version":"v2.0"}`), &got)
	if !errors.Is(err, versions.ErrInvalid) {
		t.Fatalf("Unmarshal(v2.0) error = %v, want ErrInvalid", err)
	}
}
