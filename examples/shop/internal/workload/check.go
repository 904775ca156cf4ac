package workload

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/tandemdb/tandem/examples/shop"
)

// Expected is what the logs say every row must hold: the last logged write
// of each id.
type Expected struct {
	Names   map[uint]string  // customer id -> full name
	Kg      map[uint]float64 // parcel id -> weight in kilograms
	Writes  int              // records replayed
	ByLog   []int            // records per log, in the order given
	Release map[string]int   // records per release
	// Problems are contradictions inside the logs: a release 2.0 writer that
	// changed only the family name and believed the full name to be other
	// than the log says (it read a wrong given name), or a write to an id
	// that no log created.
	Problems []string
}

// Replay reads the logs in the order their writers owned the ids (a seed
// log before the writers that took its ids over) and returns the final
// value of every id. Writers that run at the same time must own disjoint
// ids: the order between their logs is then irrelevant.
func Replay(paths ...string) (*Expected, error) {
	e := &Expected{Names: map[uint]string{}, Kg: map[uint]float64{}, Release: map[string]int{}}
	for _, p := range paths {
		recs, err := ReadLog(p)
		if err != nil {
			return nil, err
		}
		e.ByLog = append(e.ByLog, len(recs))
		for _, r := range recs {
			e.apply(p, r)
		}
	}
	sort.Strings(e.Problems)
	return e, nil
}

func (e *Expected) apply(path string, r Record) {
	e.Writes++
	e.Release[r.Release]++
	switch r.Kind {
	case KindCustomer:
		prev, ok := e.Names[r.ID]
		if r.Op != OpCreate && !ok {
			e.Problems = append(e.Problems, fmt.Sprintf("%s seq %d: %s of customer %d, which no log created", path, r.Seq, r.Op, r.ID))
		}
		name := r.Name
		if r.Op == OpFamily {
			given, _ := shop.SplitName(prev)
			name = shop.JoinName(given, r.Family)
			if name != r.Name {
				e.Problems = append(e.Problems, fmt.Sprintf("%s seq %d: release %s set the family name of customer %d to %q believing the name is %q, but it is %q (a wrong read)",
					path, r.Seq, r.Release, r.ID, r.Family, r.Name, name))
			}
		}
		e.Names[r.ID] = name
	case KindParcel:
		if _, ok := e.Kg[r.ID]; r.Op != OpCreate && !ok {
			e.Problems = append(e.Problems, fmt.Sprintf("%s seq %d: %s of parcel %d, which no log created", path, r.Seq, r.Op, r.ID))
		}
		kg := r.Weight
		if r.Unit == "lb" {
			kg = shop.LbToKg(int(r.Weight))
		}
		e.Kg[r.ID] = kg
	default:
		e.Problems = append(e.Problems, fmt.Sprintf("%s seq %d: unknown kind %q", path, r.Seq, r.Kind))
	}
}

// Summary says how many writes of each release were replayed from how
// many logs.
func (e *Expected) Summary() string {
	rels := make([]string, 0, len(e.Release))
	for r := range e.Release {
		rels = append(rels, r)
	}
	sort.Strings(rels)
	by := make([]string, len(rels))
	for i, r := range rels {
		by[i] = fmt.Sprintf("%d by %s", e.Release[r], r)
	}
	return fmt.Sprintf("replayed %d writes (%s) from %d log(s)", e.Writes, strings.Join(by, ", "), len(e.ByLog))
}

// Customer is a customer row as release 2.0 sees it.
type Customer struct {
	ID                uint
	GivenName, Family string
}

// Parcel is a parcel row as release 2.0 sees it.
type Parcel struct {
	ID uint
	Kg *float64
}

// Result is the outcome of comparing the rows with the logs.
type Result struct {
	Customers, Parcels int      // rows compared
	Lost               []string // logged rows that are missing
	Wrong              []string // rows that hold another value than the last logged write
	Extra              []string // rows no log wrote
}

// OK reports whether nothing was lost, wrong or extra.
func (r Result) OK() bool { return len(r.Lost)+len(r.Wrong)+len(r.Extra) == 0 }

// Differences returns every difference, lost first.
func (r Result) Differences() []string {
	return append(append(append([]string{}, r.Lost...), r.Wrong...), r.Extra...)
}

// String summarises the result.
func (r Result) String() string {
	return fmt.Sprintf("%d customers and %d parcels compared: %d lost, %d wrong, %d extra",
		r.Customers, r.Parcels, len(r.Lost), len(r.Wrong), len(r.Extra))
}

// Compare checks the rows against the replayed logs. Weights must match to
// the microgram: both sides went through the same conversion.
func (e *Expected) Compare(cs []Customer, ps []Parcel) Result {
	res := Result{Customers: len(cs), Parcels: len(ps)}
	seen := map[uint]bool{}
	for _, c := range cs {
		seen[c.ID] = true
		want, ok := e.Names[c.ID]
		if !ok {
			res.Extra = append(res.Extra, fmt.Sprintf("customer %d (%q %q) is in no log", c.ID, c.GivenName, c.Family))
			continue
		}
		if g, f := shop.SplitName(want); c.GivenName != g || c.Family != f {
			res.Wrong = append(res.Wrong, fmt.Sprintf("customer %d is %q %q, the last write was %q", c.ID, c.GivenName, c.Family, want))
		}
	}
	for id, want := range e.Names {
		if !seen[id] {
			res.Lost = append(res.Lost, fmt.Sprintf("customer %d (%q) is missing", id, want))
		}
	}
	seen = map[uint]bool{}
	for _, p := range ps {
		seen[p.ID] = true
		want, ok := e.Kg[p.ID]
		switch {
		case !ok:
			res.Extra = append(res.Extra, fmt.Sprintf("parcel %d is in no log", p.ID))
		case p.Kg == nil:
			res.Wrong = append(res.Wrong, fmt.Sprintf("parcel %d has no weight in kg, the last write was %v kg", p.ID, want))
		case math.Abs(*p.Kg-want) > 1e-9:
			res.Wrong = append(res.Wrong, fmt.Sprintf("parcel %d weighs %v kg, the last write was %v kg", p.ID, *p.Kg, want))
		}
	}
	for id, want := range e.Kg {
		if !seen[id] {
			res.Lost = append(res.Lost, fmt.Sprintf("parcel %d (%v kg) is missing", id, want))
		}
	}
	for _, l := range [][]string{res.Lost, res.Wrong, res.Extra} {
		sort.Strings(l)
	}
	return res
}
