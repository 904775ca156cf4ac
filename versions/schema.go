package versions

import (
	"slices"
	"strings"
)

// ReleaseHeads are the applied heads of one release: the highest applied
// sequence number of its expand and of its contract migrations, 0 for none,
// and whether its baseline is applied.
type ReleaseHeads struct {
	Release  Version
	Expand   int
	Contract int
	Baseline bool
}

// applied reports whether any migration of the release is applied.
func (h ReleaseHeads) applied() bool { return h.Expand > 0 || h.Contract > 0 || h.Baseline }

// SchemaVersion is the composite schema version of a database: per release,
// the expand head and the contract head. Releases is sorted by release and
// holds each release at most once; Set keeps it so.
type SchemaVersion struct {
	Releases []ReleaseHeads
}

// String lists, for each release with anything applied, its expand head and
// then its contract head if any, releases separated by "; ", as in
// "2.0_expand03, 2.0_contract01; 3.0_expand01". A release with only its
// baseline applied shows as "1.0_baseline". It returns "none" when nothing
// is applied.
func (s SchemaVersion) String() string {
	var b strings.Builder
	for _, h := range s.Releases {
		if !h.applied() {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		var heads []string
		if h.Expand > 0 {
			heads = append(heads, MigrationID{Release: h.Release, Phase: PhaseExpand, Seq: h.Expand}.String())
		}
		if h.Contract > 0 {
			heads = append(heads, MigrationID{Release: h.Release, Phase: PhaseContract, Seq: h.Contract}.String())
		}
		if len(heads) == 0 {
			heads = append(heads, MigrationID{Release: h.Release, Phase: PhaseBaseline}.String())
		}
		b.WriteString(strings.Join(heads, ", "))
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// Heads returns the heads of release r, with zero heads when s does not
// list r.
func (s SchemaVersion) Heads(r Version) ReleaseHeads {
	if h, ok := s.lookup(r); ok {
		return h
	}
	return ReleaseHeads{Release: r}
}

func (s SchemaVersion) lookup(r Version) (ReleaseHeads, bool) {
	for _, h := range s.Releases {
		if h.Release == r {
			return h, true
		}
	}
	return ReleaseHeads{}, false
}

// Set inserts the heads of h.Release, or replaces them if s already lists
// that release, and keeps Releases sorted. It builds a new slice, so copies
// of s made before the call are not changed.
func (s *SchemaVersion) Set(h ReleaseHeads) {
	out := make([]ReleaseHeads, 0, len(s.Releases)+1)
	for _, old := range s.Releases {
		if old.Release != h.Release {
			out = append(out, old)
		}
	}
	out = append(out, h)
	slices.SortStableFunc(out, func(a, b ReleaseHeads) int { return a.Release.Compare(b.Release) })
	s.Releases = out
}

// AtRelease reports whether the database whose applied heads are s is at
// release r. want holds the known migrations as the heads of the last known
// migration of each phase of each release. The database is at r when, for
// r and every release below r that want lists, the applied heads equal the
// wanted heads, and r itself is listed in want or in s.
func (s SchemaVersion) AtRelease(r Version, want SchemaVersion) bool {
	_, inWant := want.lookup(r)
	_, inS := s.lookup(r)
	if !inWant && !inS {
		return false
	}
	for _, w := range want.Releases {
		if r.Less(w.Release) {
			continue
		}
		if got := s.Heads(w.Release); got.Expand != w.Expand || got.Contract != w.Contract {
			return false
		}
	}
	return true
}
