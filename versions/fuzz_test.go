package versions_test

import (
	"errors"
	"testing"

	"github.com/tandemdb/tandem/versions"
)

// Seed corpora live under testdata/fuzz/<FuzzName>/, so plain `go test`
// runs every seed as an ordinary test.

func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		v, err := versions.Parse(s)
		if err != nil {
			var pe *versions.ParseError
			if !errors.As(err, &pe) || pe.Input != s || !errors.Is(err, versions.ErrInvalid) {
				t.Fatalf("Parse(%q) error = %#v, want *ParseError with Input %q", s, err, s)
			}
			return
		}
		again, err := versions.Parse(v.String())
		if err != nil || again != v {
			t.Fatalf("Parse(%q) = %v, but Parse(%q) = %v, %v", s, v, v.String(), again, err)
		}
		if got, marked, err := versions.DecodeStamp(v.Stamp()); err != nil || got != v || marked {
			t.Fatalf("DecodeStamp(%v.Stamp()) = %v, %v, %v", v, got, marked, err)
		}
		if got, marked, err := versions.DecodeStamp(v.MarkedStamp()); err != nil || got != v || !marked {
			t.Fatalf("DecodeStamp(%v.MarkedStamp()) = %v, %v, %v", v, got, marked, err)
		}
	})
}

func FuzzParseMigrationID(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		id, err := versions.ParseMigrationID(s)
		if err != nil {
			var pe *versions.ParseError
			if !errors.As(err, &pe) || pe.Input != s || !errors.Is(err, versions.ErrInvalid) {
				t.Fatalf("ParseMigrationID(%q) error = %#v, want *ParseError with Input %q", s, err, s)
			}
			return
		}
		again, err := versions.ParseMigrationID(id.String())
		if err != nil || again != id {
			t.Fatalf("ParseMigrationID(%q) = %v, but ParseMigrationID(%q) = %v, %v", s, id, id.String(), again, err)
		}
		if id.Phase == versions.PhaseBaseline != (id.Seq == 0) || id.Seq < 0 || id.Seq > versions.MaxSeq {
			t.Fatalf("ParseMigrationID(%q) = %#v: phase and sequence number disagree", s, id)
		}
		cut, rest, err := versions.CutMigrationID(s)
		if err != nil || cut != id || rest != "" {
			t.Fatalf("CutMigrationID(%q) = %v, %q, %v; want %v", s, cut, rest, err, id)
		}
	})
}

func FuzzParseState(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		st, err := versions.ParseState(s)
		if err != nil {
			var pe *versions.ParseError
			if !errors.As(err, &pe) || pe.Input != s || !errors.Is(err, versions.ErrInvalid) {
				t.Fatalf("ParseState(%q) error = %#v, want *ParseError with Input %q", s, err, s)
			}
			return
		}
		if !st.Valid() {
			t.Fatalf("ParseState(%q) = %q, which is not a state", s, st)
		}
		again, err := versions.ParseState(st.String())
		if err != nil || again != st {
			t.Fatalf("ParseState(%q) = %q, but ParseState(%q) = %q, %v", s, st, st.String(), again, err)
		}
		if versions.CanTransition(st, st) || versions.Transition(versions.Version{}, st, st) != nil {
			t.Fatalf("staying in %q must be a no-op, not a transition", st)
		}
	})
}

func FuzzDecodeStamp(f *testing.F) {
	f.Fuzz(func(t *testing.T, stamp int64) {
		v, marked, err := versions.DecodeStamp(stamp)
		if err != nil {
			var se *versions.StampError
			if !errors.As(err, &se) || se.Stamp != stamp || !errors.Is(err, versions.ErrInvalid) {
				t.Fatalf("DecodeStamp(%d) error = %#v, want *StampError{%d}", stamp, err, stamp)
			}
			return
		}
		want := v.Stamp()
		if marked {
			want = v.MarkedStamp()
		}
		if want != stamp {
			t.Fatalf("DecodeStamp(%d) = %v, %v, which encodes as %d", stamp, v, marked, want)
		}
		if again, err := versions.Parse(v.String()); err != nil || again != v {
			t.Fatalf("Parse(%q) = %v, %v; want %v", v.String(), again, err, v)
		}
	})
}
