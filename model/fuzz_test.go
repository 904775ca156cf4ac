package model_test

import (
	"testing"

	"github.com/tandemdb/tandem/model"
)

// FuzzParseTag: the tag parser never panics, and what it accepts formats
// back to a tag that parses to the same lifecycle.
func FuzzParseTag(f *testing.F) {
	for _, s := range []string{"added=2.0", "deprecated=2.0", "added=1.4,deprecated=2.0", "", "added", "bogus=1.0", "added=2.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		l, err := model.ParseTag(tag)
		if err != nil {
			return
		}
		again, err := model.ParseTag(l.String())
		if err != nil || again != l {
			t.Fatalf("ParseTag(%q) = %v; its String %q parses to %v, %v", tag, l, l.String(), again, err)
		}
		if !l.Added.IsZero() && !l.Deprecated.IsZero() && !l.Added.Less(l.Deprecated) {
			t.Fatalf("accepted deprecated %s not after added %s", l.Deprecated, l.Added)
		}
	})
}
