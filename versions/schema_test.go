package versions_test

import (
	"testing"

	"github.com/tandemdb/tandem/versions"
)

func heads(release string, expand, contract int) versions.ReleaseHeads {
	return versions.ReleaseHeads{Release: versions.MustParse(release), Expand: expand, Contract: contract}
}

func schema(hs ...versions.ReleaseHeads) versions.SchemaVersion {
	var s versions.SchemaVersion
	for _, h := range hs {
		s.Set(h)
	}
	return s
}

func TestSchemaVersionString(t *testing.T) {
	tests := []struct {
		name string
		s    versions.SchemaVersion
		want string
	}{
		{"empty", versions.SchemaVersion{}, "none"},
		{"nothing applied", schema(heads("2.0", 0, 0)), "none"},
		{"expand only", schema(heads("2.0", 3, 0)), "2.0_expand03"},
		{"expand and contract", schema(heads("2.0", 3, 1)), "2.0_expand03, 2.0_contract01"},
		{"contract only", schema(heads("2.0", 0, 2)), "2.0_contract02"},
		{"two releases", schema(heads("3.0", 1, 0), heads("2.0", 3, 1)), "2.0_expand03, 2.0_contract01; 3.0_expand01"},
		{"skips empty release", schema(heads("2.0", 3, 1), heads("2.1", 0, 0), heads("3.0", 1, 0)), "2.0_expand03, 2.0_contract01; 3.0_expand01"},
		{"patch release, three digits", schema(heads("2.0.1", 123, 0)), "2.0.1_expand123"},
		{"baseline only", schema(versions.ReleaseHeads{Release: versions.MustParse("1.0"), Baseline: true}), "1.0_baseline"},
		{"baseline then expand", schema(versions.ReleaseHeads{Release: versions.MustParse("1.0"), Baseline: true}, heads("2.0", 1, 0)), "1.0_baseline; 2.0_expand01"},
		{"baseline under heads", schema(versions.ReleaseHeads{Release: versions.MustParse("1.0"), Expand: 2, Baseline: true}), "1.0_expand02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSchemaVersionSet(t *testing.T) {
	s := schema(heads("3.0", 1, 0), heads("1.0", 2, 2), heads("2.0", 1, 0))
	before := s
	s.Set(heads("2.0", 3, 1))
	s.Set(heads("0.9", 1, 1))

	want := []versions.ReleaseHeads{heads("0.9", 1, 1), heads("1.0", 2, 2), heads("2.0", 3, 1), heads("3.0", 1, 0)}
	if len(s.Releases) != len(want) {
		t.Fatalf("Releases = %v, want %v", s.Releases, want)
	}
	for i := range want {
		if s.Releases[i] != want[i] {
			t.Fatalf("Releases = %v, want %v", s.Releases, want)
		}
	}
	if got := before.Heads(versions.MustParse("2.0")); got != heads("2.0", 1, 0) {
		t.Errorf("Set changed an earlier copy: %v", got)
	}
	if got := s.Heads(versions.MustParse("2.0")); got != heads("2.0", 3, 1) {
		t.Errorf("Heads(2.0) = %v", got)
	}
	if got := s.Heads(versions.MustParse("5.0")); got != heads("5.0", 0, 0) {
		t.Errorf("Heads(5.0) = %v, want zero heads for 5.0", got)
	}
}

func TestAtRelease(t *testing.T) {
	want := schema(heads("1.0", 2, 1), heads("2.0", 3, 1), heads("3.0", 1, 0))
	tests := []struct {
		name    string
		applied versions.SchemaVersion
		r       string
		at      bool
	}{
		{"all of 2.0 and below", schema(heads("1.0", 2, 1), heads("2.0", 3, 1)), "2.0", true},
		{"later release applied too", schema(heads("1.0", 2, 1), heads("2.0", 3, 1), heads("3.0", 1, 0)), "2.0", true},
		{"2.0 contract missing", schema(heads("1.0", 2, 1), heads("2.0", 3, 0)), "2.0", false},
		{"2.0 expand behind", schema(heads("1.0", 2, 1), heads("2.0", 2, 1)), "2.0", false},
		{"1.0 contract missing", schema(heads("1.0", 2, 0), heads("2.0", 3, 1)), "2.0", false},
		{"nothing applied", versions.SchemaVersion{}, "2.0", false},
		{"at 1.0", schema(heads("1.0", 2, 1), heads("2.0", 1, 0)), "1.0", true},
		{"at 3.0 without its contract (none known)", schema(heads("1.0", 2, 1), heads("2.0", 3, 1), heads("3.0", 1, 0)), "3.0", true},
		{"unknown release between known ones", schema(heads("1.0", 2, 1), heads("2.0", 3, 1)), "2.5", false},
		{"unknown release applied", schema(heads("1.0", 2, 1), heads("2.0", 3, 1), heads("2.5", 1, 0)), "2.5", true},
		{"release below every known one", schema(heads("0.5", 1, 0)), "0.5", true},
		{"applied ahead of the known migrations", schema(heads("1.0", 3, 1), heads("2.0", 3, 1)), "2.0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.applied.AtRelease(versions.MustParse(tt.r), want); got != tt.at {
				t.Errorf("%q.AtRelease(%s) = %v, want %v", tt.applied, tt.r, got, tt.at)
			}
		})
	}
}
